// A parsed mount point: what -v/--mount/--tmpfs and the API's Binds/Mounts/Tmpfs all become.
// inspect's "Mounts" is derived from these.

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name ('' until an anonymous volume is named), '' for tmpfs. */
  source: string;
  /** Absolute path in the container. */
  destination: string;
  readOnly: boolean;
  /** inspect's Mode: e.g. "", "ro", "z", "rw" as Docker echoes it. */
  mode: string;
  /** rprivate unless given. */
  propagation: string;
  /** Which form it came from: Binds (-v), Mounts (--mount), Tmpfs (--tmpfs), or an image VOLUME. */
  origin: 'binds' | 'mounts' | 'tmpfs' | 'image';
  /** bind only: create a missing host path (-v does, --mount refuses). */
  createHostPath?: boolean;
  /** volume only. */
  driver?: string;
  driverOptions?: Record<string, string>;
  volumeLabels?: Record<string, string>;
  noCopy?: boolean;
  subpath?: string;
  /** tmpfs only: kernel mount options, e.g. ["size=64m", "mode=1777"]. */
  tmpfsOptions?: string[];
}
