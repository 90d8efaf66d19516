// What the volume service asks of a volume driver: `local` (directories under the data-root,
// optionally a lazily mounted filesystem) or a plugin speaking Docker's VolumeDriver protocol.
// The service keeps the metadata; a driver only makes and serves the bytes.

export interface VolumeDriver {
  readonly name: string;
  readonly scope: 'local' | 'global';
  /** Validates and makes the volume; an existing one is fine (create is idempotent). */
  create(name: string, opts: Record<string, string>): Promise<void>;
  remove(name: string, opts: Record<string, string>): Promise<void>;
  /** The host path of the volume's content, for inspect's Mountpoint ('' when the driver has none yet). */
  path(name: string, opts: Record<string, string>): Promise<string>;
  /** Makes the content available for one user (`id`) and returns the host path to bind. */
  mount(name: string, opts: Record<string, string>, id: string): Promise<string>;
  unmount(name: string, opts: Record<string, string>, id: string): Promise<void>;
  /** The driver's own view (plugins' Get: Status); undefined when it has nothing to add. */
  status?(name: string): Promise<Record<string, unknown> | undefined>;
}
