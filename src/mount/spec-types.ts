// A parsed mount point: what -v/--mount/--tmpfs and the API's Binds/Mounts/Tmpfs all become.
// inspect's "Mounts" is derived from these (every origin except 'tmpfs': Docker does not list
// HostConfig.Tmpfs entries there). An image mount (API 1.48) names another image whose
// layers are mounted at the destination: read-only as Docker does, or read-write over an
// upper layer of the container's own (Podman's form).

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs' | 'image';
  /** Host path (bind), volume name ('' until an anonymous volume is named), the image reference as given (image), '' for tmpfs. */
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
  /** volume and image only: the directory (or file) inside the volume or image that is mounted. */
  subpath?: string;
  /** image only: the ID the reference resolved to at create (the image stays in use by this container). */
  imageId?: string;
  /** image only: the snapshot (a view, or an active snapshot when read-write) mounted at each start. */
  imageSnapshot?: string;
  /**
   * tmpfs only: the complete option list for the OCI mount, Docker's defaults merged with what
   * was asked (later options win), e.g. ["noexec","nosuid","nodev","rprivate","size=64m"].
   */
  tmpfsOptions?: string[];
}
