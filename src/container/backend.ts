// The container room's roles at the API boundary, split as moby's router/container/backend.go
// splits its backend: each API file names only the role it calls, a test stands in for one role
// without faking the rest, and nothing is optional, so a caller never probes for a verb.
// ContainerBackend, their sum, is what the engine hands the API; the daemon alone keeps the
// class (shutdown and recovery are not the API's business).
import type { Readable, Writable } from 'node:stream';
import type { PathStat, Change } from '../archive/types.js';
import type { RuntimeProcess } from '../runtime/types.js';
import type { ContainerRecord, ContainerService } from './types.js';
import type { CreateBody } from './create.js';
import type { UpdateBody } from './update.js';
import type { PruneReport } from './prune.js';
import type { TopResult } from './top.js';
import type { StatsJson } from './stats.js';
import type { LogOptions } from './logs.js';
import type { AttachConnection, AttachOptions } from './attach.js';
import type { AttachClient } from './stream-hub.js';
import type { ExecConfig, ExecInstance } from './exec.js';
import type { ExtractOptions } from './archive-ops.js';
import type { CommitOptions } from './commit-ops.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** GET /containers/json: which containers, in Docker's ps order. */
export interface ListOptions {
  all: boolean;
  /** Newest first, at most this many (stopped ones included); 0 or less for no limit. */
  limit: number;
  /** Fill SizeRw and SizeRootFs (walks writable layers). */
  size: boolean;
  filters: Map<string, string[]>;
}

/** Create, the state changes, removal and prune (moby's stateBackend and systemBackend). */
export interface ContainerLifecycle {
  create(body: CreateBody, name: string | null, apiVersion: string): Promise<ContainerRecord>;
  start(ref: string): Promise<void>;
  /** Sends the stop signal, then SIGKILL after `timeout` seconds; NotModified when not running. */
  stop(ref: string, timeout?: number, signal?: string): Promise<void>;
  restart(ref: string, timeout?: number): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  rename(ref: string, newName: string): Promise<void>;
  /** Resources and restart policy of a created or running container; returns Docker's warnings. */
  update(ref: string, body: UpdateBody): Promise<string[]>;
  /** Resolves with the exit code once `condition` holds. Looks the container up first (404 before waiting). */
  waitFor(ref: string, condition: WaitCondition): { rec: ContainerRecord; done: Promise<number> };
  remove(ref: string, opts: { force?: boolean; volumes?: boolean }): Promise<void>;
  /** `docker rm --link /parent/alias`: removes a legacy link, never a container. */
  removeLink(ref: string): void;
  prune(filters: Map<string, string[]>): Promise<PruneReport>;
}

/** Attach, logs and the terminal size of a container's own process (moby's attachBackend and logs). */
export interface ContainerStreams {
  /** A hijacked client attached to the container: logs, live output, stdin with detach keys. */
  attach(ref: string, opts: AttachOptions, conn: AttachConnection): Promise<void>;
  /** Sends the container's output to `client` from now on (before start: from the first byte). */
  attachOutput(ref: string, client: AttachClient): () => void;
  /** NotImplemented when the container's logging driver keeps nothing to read; call before answering 200. */
  checkLogsReadable(rec: ContainerRecord): void;
  /** Writes the selected log entries, then (with follow) live ones until the container stops or `closed`. */
  logs(
    rec: ContainerRecord,
    opts: LogOptions,
    write: (stream: 'stdout' | 'stderr', data: Buffer) => void,
    closed: Promise<void>,
  ): Promise<void>;
  resize(ref: string, height: number, width: number): void;
}

/** docker exec: instances created against a running container (moby's execBackend). */
export interface ContainerExec {
  /** Conflict when the container is not running, is paused, or no command is given. */
  execCreate(ref: string, config: ExecConfig): ExecInstance;
  /** NotFound `No such exec instance: <id>`. */
  execGet(id: string): ExecInstance;
  execInspect(id: string): Record<string, unknown>;
  /** Starts the process (with the start request's terminal size, when it gives one); the caller wires its streams. */
  execStart(id: string, consoleSize: [number, number] | null): Promise<RuntimeProcess>;
  execResize(id: string, height: number, width: number): void;
}

/** docker cp and export: the container's files (moby's copyBackend). */
export interface ContainerArchive extends Pick<ContainerService, 'withRootfs'> {
  statPath(ref: string, path: string): Promise<PathStat>;
  /** The tar of `path`; `onStat` runs before its first byte, so the caller can still send headers or an error. */
  archivePath(ref: string, path: string, onStat: (stat: PathStat) => void, out: Writable): Promise<void>;
  /** Unpacks the tar `body` (plain or compressed) into the directory `path`. */
  extractToDir(ref: string, path: string, body: Readable, opts: ExtractOptions): Promise<void>;
  /** The whole filesystem (image and writable layer, no mounts) as a tar; `onStart` before its first byte. */
  export(ref: string, out: Writable, onStart: () => void): Promise<void>;
}

/** docker commit and docker diff: the writable layer as an image, or as a list of changes. */
export interface ContainerCommitter {
  commit(ref: string, opts: CommitOptions): Promise<{ Id: string }>;
  changes(ref: string): Promise<Change[]>;
}

/** What is known of containers, as records and in Docker's JSON (moby's monitorBackend). */
export interface ContainerViews extends Pick<ContainerService, 'get' | 'list' | 'usersOfImage' | 'mountsInUse'> {
  /** GET /containers/json; InvalidParameter for a filter Docker does not know. */
  ps(opts: ListOptions): Promise<Record<string, unknown>[]>;
  /** Containers as GET /containers/json shows them (system df lists them all). */
  summaries(recs: ContainerRecord[], withSize: boolean): Promise<Record<string, unknown>[]>;
  /** A summary's Status ("Exited (0) 5 seconds ago"), which ages by itself. */
  statusOf(rec: ContainerRecord): string;
  inspect(ref: string, withSize: boolean): Promise<Record<string, unknown>>;
  top(ref: string, psArgs: string): Promise<TopResult>;
}

/** docker stats: one sample of a container's counters; `prev` makes precpu_stats of a stream. */
export interface ContainerStats {
  statsSample(rec: ContainerRecord, prev?: StatsJson): StatsJson;
}

/** A container's endpoints on user networks (docker network connect/disconnect). */
export interface ContainerEndpoints {
  connectNetwork(ref: string, network: string, endpointConfig?: Record<string, any>): Promise<void>;
  disconnectNetwork(ref: string, network: string): Promise<void>;
}

export type ContainerBackend = ContainerLifecycle &
  ContainerStreams &
  ContainerExec &
  ContainerArchive &
  ContainerCommitter &
  ContainerViews &
  ContainerStats &
  ContainerEndpoints;
