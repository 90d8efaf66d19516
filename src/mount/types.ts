// Mount is the lingua franca between rooms: a serialised mount(2) call. Snapshotters return
// them, mount/kernel.ts performs them, runtime/ writes them into the OCI spec.
export interface Mount {
  /** Filesystem type: 'overlay', 'bind', 'tmpfs', … */
  type: string;
  source: string;
  /** Set when the mount is meant for a fixed place (OCI mounts); snapshot mounts leave it unset. */
  target?: string;
  options: string[];
}
