// The container room's contract with other rooms (archive endpoints, volumes, system).
// Field names follow Docker's inspect JSON where they surface there.
import type { MountSpec } from '../mount/spec-types.js';
import type { HealthState } from './health-config.js';
import type { EndpointSettings, PortMapping } from '../network/types.js';

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present once a container with a healthcheck has started. */
  Health?: HealthState;
}

export interface ContainerRecord {
  id: string;
  /** Without the leading slash. */
  name: string;
  imageId: string;
  /** The reference the user gave (Config.Image). */
  imageRef: string;
  /** Snapshot key of the writable layer. */
  snapshotKey: string;
  /** Where the root filesystem is mounted while the container runs (MergedDir). */
  rootfsPath: string;
  /** Docker's Config (Env, Cmd, Labels, …) as created. */
  config: Record<string, any>;
  /** Docker's HostConfig as created. */
  hostConfig: Record<string, any>;
  /** Parsed mount points: the source of inspect's Mounts. */
  mounts: MountSpec[];
  state: ContainerState;
  created: string;
  /** Entrypoint + Cmd split as inspect's Path and Args. */
  path?: string;
  args?: string[];
  /** Snapshot name of the committed init layer under the writable layer (Docker's <id>-init). */
  initSnapshot?: string;
  restartCount?: number;
  /** Volumes created for this container without a name (removed by rm -v / --rm). */
  anonymousVolumes?: string[];
  /** Networks by name: the configured endpoint (aliases, requested address) and, while running, its address. */
  networks?: Record<string, EndpointSettings>;
  /** Host ports bound while running. */
  publishedPorts?: PortMapping[];
  /** IDs of exec instances still known for this container. */
  execIds?: string[];
}

export interface ContainerService {
  /** Stops running containers: the daemon calls it when it shuts down. */
  shutdown(): Promise<void>;
  /** By full ID, unique ID prefix or name; NotFound `No such container: <ref>`. */
  get(ref: string): Promise<ContainerRecord>;
  list(): Promise<ContainerRecord[]>;
  /** Container IDs created from an image (for rmi conflicts). */
  usersOfImage(imageId: string): string[];
  /**
   * Runs `fn` with the container's root filesystem mounted (and its volumes/binds in place, as
   * Docker does for docker cp), whether or not the container is running.
   */
  withRootfs<T>(ref: string, fn: (rootfs: string, c: ContainerRecord) => Promise<T>): Promise<T>;
  /** Resolves once the container's last run is torn down (its exit is answered before that). */
  tornDown(ref: string): Promise<void>;
  /**
   * IDs of the containers whose mounts are in use or being made or undone right now: running,
   * being started (a restart policy starts one with no request), being torn down after an exit
   * (answered before its unmounts), or mounted for docker cp.
   */
  mountsInUse(): Set<string>;
  /** The rootfs alone, open as a directory fd for as long as `fn` runs (docker export). */
  withRootfsTree<T>(ref: string, fn: (dirFd: number, c: ContainerRecord) => Promise<T>): Promise<T>;
}
