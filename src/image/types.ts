// The image room's contract with the rest of the engine. JSON shapes follow Docker's image
// config (OCI config plus Docker's container_config etc.), kept byte-exact where IDs depend on it.
import type { Readable } from 'node:stream';

/** Docker's container config as it appears in an image config's "config". */
export interface ImageRunConfig {
  Hostname?: string;
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Volumes?: Record<string, object> | null;
  ExposedPorts?: Record<string, object> | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[] | null;
  OnBuild?: string[] | null;
  Healthcheck?: unknown;
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: ImageRunConfig;
  container_config?: ImageRunConfig;
  container?: string;
  docker_version?: string;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

export interface ImageRecord {
  /** "sha256:<hex>" of the config bytes. */
  id: string;
  config: ImageConfig;
  repoTags: string[];
  repoDigests: string[];
  /** Parent image ID (local builds and commits only), or ''. */
  parent: string;
  /** Sum of the layers' sizes, as Docker reports Size. */
  size: number;
  /** ChainID of the top layer = the committed snapshot name to prepare containers on; undefined for an image with no layers. */
  topChainID?: string;
}

export interface NewImageOptions {
  /** Image to build on (its layers and config are inherited), or undefined for scratch. */
  parentId?: string;
  /** A layer tar to add on top (uncompressed or compressed), or undefined for a metadata-only image. */
  layer?: Readable;
  /**
   * The layer's size as Docker reports it (DiffSize), where its producer knows it once the
   * stream has ended (a commit's export sums it from the headers it writes): the new layer's
   * snapshot is then not walked to measure it.
   */
  layerSize?: () => number;
  /** The new image's run config (replaces the parent's). */
  config: ImageRunConfig;
  history: HistoryEntry;
  /** Extra top-level config fields (container, container_config, author, comment…). */
  extra?: Record<string, unknown>;
  /** Tag the new image with this reference (e.g. "name:tag"). */
  tag?: string;
}

export interface ImageService {
  /** Finds an image by ID, short ID prefix, or reference; NotFound `No such image: <ref>`. */
  resolve(ref: string): Promise<ImageRecord>;
  /** Creates an image from a parent plus an optional layer (docker commit, import, build). */
  create(opts: NewImageOptions): Promise<ImageRecord>;
  /** Tags an image; replaces the tag on any other image. */
  tag(id: string, ref: string): Promise<void>;
  list(): Promise<ImageRecord[]>;
  /** Which containers use an image: set by the daemon once the container service exists (rmi conflicts). */
  setContainerUsage(fn: (imageId: string) => string[]): void;
  /**
   * Removes layers no image references any more. A force-deleted image's layers stay while a
   * container is built on them; the container service calls this after removing a container.
   */
  releaseUnusedLayers(): Promise<string[]>;
  /** The original uncompressed tar of a layer, by diffID (as `docker save` writes it). */
  readLayer(diffID: string): Readable;
  /**
   * For `docker system df`: top-level images as GET /images/json lists them, with SharedSize
   * and Containers filled in, and LayersSize (every stored layer counted once).
   */
  diskUsage(): Promise<{
    images: Record<string, unknown>[];
    layersSize: number;
    layerCount: number;
    layerIDs: string[];
  }>;
}
