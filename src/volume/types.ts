// The volume room's contract with the container room and the API.

export interface VolumeRecord {
  name: string;
  driver: string;
  /** Host directory: <data-root>/volumes/<name>/_data for local volumes. */
  mountpoint: string;
  /** RFC 3339 with offset, as Docker prints it. */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  scope: 'local' | 'global';
  anonymous: boolean;
  /** What a volume plugin's Get reported (inspect's Status); absent for local volumes. */
  status?: Record<string, unknown>;
}

/** One row of `docker system df`'s volume section (API ≤ 1.51 shape: Volume + UsageData). */
export interface VolumeUsage {
  volume: VolumeRecord;
  /** Bytes as Docker's directory.Size counts them: st_size of non-directories, hard links once. */
  size: number;
  refCount: number;
}

export interface PruneReport {
  deleted: string[];
  spaceReclaimed: number;
}

export interface CreateVolumeOptions {
  /** Omitted: a random 64-hex name (anonymous volume). */
  name?: string;
  driver?: string;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
  anonymous?: boolean;
}

export interface VolumeService {
  /** Docker's create: an existing name with the same driver returns the existing volume. */
  create(opts: CreateVolumeOptions): Promise<VolumeRecord>;
  /** NotFound `get <name>: no such volume`. */
  get(name: string): Promise<VolumeRecord>;
  list(): Promise<VolumeRecord[]>;
  /** Conflict `remove <name>: volume is in use - [<ids>]` while any container references it. */
  remove(name: string, opts?: { force?: boolean }): Promise<void>;

  /** Gives a local volume not used by any container a new name (a Strata extension). */
  rename(from: string, to: string): Promise<VolumeRecord>;
  /** Records that a container uses the volume (at container create; persisted; survives restarts). */
  reference(name: string, containerId: string): void;
  /** Drops the container's reference (at container remove). */
  release(name: string, containerId: string): void;
  /** Container IDs referencing the volume. */
  users(name: string): string[];

  /** Makes the volume's content available (lazy driver mounts, refcounted) and returns the host path to bind. */
  mount(name: string, containerId: string): Promise<string>;
  /** The container stopped using the mount; the last unmount releases driver mounts (tmpfs, nfs…). */
  unmount(name: string, containerId: string): Promise<void>;
  /** Copies `fromDir` (image content at the mount point) into the volume if it is empty; keeps owners, modes, xattrs. */
  populate(name: string, fromDir: string): Promise<void>;

  /**
   * Docker's prune with its filters (`label`, `label!`, `all`). Without `all=true` only anonymous
   * volumes are candidates; callers speaking API < 1.42 add `all=true` first, as dockerd does.
   */
  prune(filters: Map<string, string[]>): Promise<PruneReport>;
  /** Local volumes without driver options, with their size (by `sizeOf`, default a walk) and reference count (system df). */
  diskUsage(sizeOf?: (name: string, dir: string) => Promise<number>): Promise<VolumeUsage[]>;
  /** Names of the volume plugins activated so far (docker info's Plugins.Volume, besides "local"). */
  pluginNames(): string[];
}
