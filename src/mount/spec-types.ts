// A parsed mount point: what -v/--mount/--tmpfs and the API's Binds/Mounts/Tmpfs all become.
// inspect's "Mounts" is derived from these (every origin except 'tmpfs': Docker does not list
// HostConfig.Tmpfs entries there).

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name ('' until an anonymous volume is named), '' for tmpfs. */
  source: string;
  /** Absolute, cleaned path in the container. */
  destination: string;
  readOnly: boolean;
  /** inspect's Mode as Docker echoes it: the -v mode string, "z" for a local volume given none, else "". */
  mode: string;
  /** Binds: rprivate unless given (rslave when the source holds the daemon root); '' for volumes and tmpfs. */
  propagation: string;
  /** Which form it came from: Binds (-v), Mounts (--mount), Tmpfs (--tmpfs), or an image VOLUME. */
  origin: 'binds' | 'mounts' | 'tmpfs' | 'image';
  /** bind only: create a missing host path (-v does, --mount refuses unless CreateMountpoint). */
  createHostPath?: boolean;
  /** bind only: BindOptions.NonRecursive (a plain bind, not rbind). */
  nonRecursive?: boolean;
  /** volume only: the driver asked for ('' or undefined = the default, local). */
  driver?: string;
  driverOptions?: Record<string, string>;
  volumeLabels?: Record<string, string>;
  /** volume only: do not fill an empty volume with the image's content (B5). */
  noCopy?: boolean;
  subpath?: string;
  /**
   * tmpfs only: the complete option list for the OCI mount, Docker's defaults merged with what
   * was asked (later options win), e.g. ["noexec","nosuid","nodev","rprivate","size=64m"].
   */
  tmpfsOptions?: string[];
}
