// The container service: the one class behind the container room's roles (backend.ts), built
// once by the daemon. Apart from a few lookups (wait, top, resize, attach), each verb is a module
// of the room it delegates to — create.ts, lifecycle.ts (start, restart and what an exit drives),
// stop.ts (stop, kill, pause), remove.ts, rename.ts, update.ts, prune.ts, rootfs-access.ts (what
// cp and export read), exec.ts, logs.ts, the archive, diff and commit operations — and so are the
// daemon's own calls, shutdown.ts and recover.ts. Lifecycle operations on one container are
// serialised by a lock (context.ts).
import path from 'node:path';
import { Conflict } from '../errors.js';
import { createRuncRuntime } from '../runtime/runc.js';
import type { ContainerRecord, ContainerService } from './types.js';
import { ContainerStore } from './store.js';
import { emit, liveOf, type Ctx } from './context.js';
import { createContainer, type CreateBody } from './create.js';
import { top, type TopResult } from './top.js';
import { pruneContainers, type PruneReport } from './prune.js';
import type { AttachClient } from './stream-hub.js';
import { attachContainer, type AttachConnection, type AttachOptions } from './attach.js';
import { ExecStore } from './exec.js';
import type { ContainerServiceDeps } from './deps.js';
import type { ContainerBackend, ListOptions, WaitCondition } from './backend.js';
import type { ContainerOpsDeps } from './ops-deps.js';
import { inspectJson, listJson, listMemo, statusText } from './view.js';
import { psFilter } from './filters.js';
import { removeLink } from './links.js';
import { updateContainer, type UpdateBody } from './update.js';
import { checkLogsReadable, streamLogs, type LogOptions } from './logs.js';
import { statsSample, type StatsJson } from './stats.js';
import type { ExecConfig, ExecInstance } from './exec.js';
import type { RuntimeProcess } from '../runtime/types.js';
import type { ExtractOptions } from './archive-ops.js';
import type { CommitOptions } from './commit-ops.js';
import type { Change, PathStat } from '../archive/types.js';
import type { Readable, Writable } from 'node:stream';
import { Incomplete } from '../meta/incomplete.js';
import { ProjectIds } from '../system/project-ids.js';
import { recoverContainers } from './recover.js';
import { usesImage } from './image-mount.js';
import { connectNetwork, disconnectNetwork } from './network-connect.js';
import { restartContainer, startByRef } from './lifecycle.js';
import { killContainer, pauseContainer, stopContainer, unpauseContainer } from './stop.js';
import { removeContainer, type RemoveOptions } from './remove.js';
import { renameContainer } from './rename.js';
import { withRootfs, withRootfsTree } from './rootfs-access.js';
import { killAllNow, shutdownContainers, shutdownSeconds, stillRunning } from './shutdown.js';

export type { ContainerServiceDeps } from './deps.js';
export type { WaitCondition } from './backend.js';

export class ContainerManager implements ContainerService, ContainerBackend {
  private readonly execs: ExecStore;
  /** What cp, diff, export and commit read: this service and the engine parts it was built from. */
  private readonly ops: ContainerOpsDeps;

  constructor(private readonly ctx: Ctx) {
    this.execs = new ExecStore(ctx);
    this.ops = {
      config: { dataRoot: ctx.dataRoot },
      containers: this,
      snapshotter: ctx.snapshotter,
      images: ctx.images,
      events: ctx.events,
    };
  }

  async get(ref: string): Promise<ContainerRecord> {
    return this.ctx.store.get(ref);
  }
  async list(): Promise<ContainerRecord[]> {
    return this.ctx.store.all();
  }
  usersOfImage(imageId: string): string[] {
    return this.ctx.store
      .all()
      .filter((c) => usesImage(c, imageId))
      .map((c) => c.id);
  }

  async ps(opts: ListOptions): Promise<Record<string, unknown>[]> {
    const match = await psFilter(this.ctx, opts.filters);
    let recs = (await this.list()).filter((c) => (opts.all || opts.limit > 0 || c.state.Running) && match(c));
    recs.sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.id < b.id ? 1 : -1));
    if (opts.limit > 0) recs = recs.slice(0, opts.limit);
    return this.summaries(recs, opts.size);
  }

  summaries(recs: ContainerRecord[], withSize: boolean): Promise<Record<string, unknown>[]> {
    const memo = listMemo(this.ctx);
    return Promise.all(recs.map((c) => listJson(this.ctx, c, withSize, memo)));
  }

  statusOf(rec: ContainerRecord): string {
    return statusText(rec);
  }

  async inspect(ref: string, withSize: boolean): Promise<Record<string, unknown>> {
    return inspectJson(this.ctx, await this.get(ref), withSize);
  }

  statsSample(rec: ContainerRecord, prev?: StatsJson): StatsJson {
    return statsSample(rec, prev);
  }

  checkLogsReadable(rec: ContainerRecord): void {
    checkLogsReadable(rec);
  }

  logs(
    rec: ContainerRecord,
    opts: LogOptions,
    write: (stream: 'stdout' | 'stderr', data: Buffer) => void,
    closed: Promise<void>,
  ): Promise<void> {
    return streamLogs(this.ctx, rec, opts, write, closed);
  }

  execCreate(ref: string, config: ExecConfig): ExecInstance {
    return this.execs.create(this.ctx.store.get(ref), config);
  }
  execGet(id: string): ExecInstance {
    return this.execs.get(id);
  }
  execInspect(id: string): Record<string, unknown> {
    return this.execs.inspect(this.execs.get(id));
  }
  execStart(id: string, consoleSize: [number, number] | null): Promise<RuntimeProcess> {
    const inst = this.execs.get(id);
    if (consoleSize) inst.config.ConsoleSize = consoleSize;
    return this.execs.start(inst);
  }
  execResize(id: string, height: number, width: number): void {
    const inst = this.execs.get(id);
    // A size that arrives before the start is the one the process starts with.
    if (!inst.started) inst.config.ConsoleSize = [height, width];
    else inst.proc?.resize(height, width);
  }

  // cp, export, commit and diff, and the archive room under them (tar streams, layer diffs),
  // are loaded at their first call: a daemon's start does without them.
  async statPath(ref: string, path: string): Promise<PathStat> {
    return (await import('./archive-ops.js')).statContainerPath(this.ops, ref, path);
  }
  async archivePath(ref: string, path: string, onStat: (stat: PathStat) => void, out: Writable): Promise<void> {
    return (await import('./archive-ops.js')).copyFromContainer(this.ops, ref, path, onStat, out);
  }
  async extractToDir(ref: string, path: string, body: Readable, opts: ExtractOptions): Promise<void> {
    return (await import('./archive-ops.js')).copyToContainer(this.ops, ref, path, body, opts);
  }
  async export(ref: string, out: Writable, onStart: () => void): Promise<void> {
    return (await import('./changes-ops.js')).exportContainer(this.ops, ref, out, onStart);
  }
  async commit(ref: string, opts: CommitOptions): Promise<{ Id: string }> {
    return (await import('./commit-ops.js')).commitContainer(this.ops, ref, opts);
  }
  async changes(ref: string): Promise<Change[]> {
    return (await import('./changes-ops.js')).containerChanges(this.ops, ref);
  }

  create(body: CreateBody, name: string | null, apiVersion: string): Promise<ContainerRecord> {
    return createContainer(this.ctx, body, name, apiVersion);
  }

  start(ref: string): Promise<void> {
    return startByRef(this.ctx, this.execs, ref);
  }
  /** Sends the stop signal, then SIGKILL after `timeout` seconds; 304 when not running. */
  stop(ref: string, timeout?: number, signal?: string): Promise<void> {
    return stopContainer(this.ctx, ref, timeout, signal);
  }
  kill(ref: string, signal?: string): Promise<void> {
    return killContainer(this.ctx, ref, signal);
  }
  pause(ref: string): Promise<void> {
    return pauseContainer(this.ctx, ref);
  }
  unpause(ref: string): Promise<void> {
    return unpauseContainer(this.ctx, ref);
  }
  restart(ref: string, timeout?: number): Promise<void> {
    return restartContainer(this.ctx, this.execs, ref, timeout);
  }

  /** A hijacked client attached to the container: logs, live output, stdin with detach keys (attach.ts). */
  async attach(ref: string, opts: AttachOptions, conn: AttachConnection): Promise<void> {
    const rec = this.ctx.store.get(ref);
    await attachContainer(this.ctx, rec, opts, conn, (id, client) => this.attachOutput(id, client));
  }

  /** Sends the container's output to `client` from now on (before start: from the first byte). */
  attachOutput(ref: string, client: AttachClient): () => void {
    const rec = this.ctx.store.get(ref);
    const detach = liveOf(this.ctx, rec.id).hub.add(client);
    emit(this.ctx, 'attach', rec);
    return detach;
  }

  /** Resolves with the exit code once `condition` holds. Looks the container up first (404 before waiting). */
  waitFor(ref: string, condition: WaitCondition): { rec: ContainerRecord; done: Promise<number> } {
    const rec = this.ctx.store.get(ref);
    const live = liveOf(this.ctx, rec.id);
    let done: Promise<number>;
    if (condition === 'removed') done = new Promise((r) => live.removeWaiters.push(r));
    else if (condition === 'not-running' && !rec.state.Running && !live.proc)
      done = Promise.resolve(rec.state.ExitCode);
    else done = new Promise((r) => live.exitWaiters.push(r));
    return { rec, done };
  }

  remove(ref: string, opts: RemoveOptions): Promise<void> {
    return removeContainer(this.ctx, this.execs, ref, opts);
  }

  async update(ref: string, body: UpdateBody): Promise<string[]> {
    return updateContainer(this.ctx, this.ctx.store.get(ref), body);
  }

  removeLink(ref: string): void {
    removeLink(this.ctx, ref);
  }

  rename(ref: string, newName: string): Promise<void> {
    return renameContainer(this.ctx, ref, newName);
  }

  /**
   * Resolves once the container's last run is torn down: its exit is answered before its
   * rootfs is unmounted and its mounts released, and a commit reads the layer only after.
   */
  async tornDown(ref: string): Promise<void> {
    const rec = this.ctx.store.get(ref);
    // A running container's live.exited is its next exit: there is nothing to wait for.
    if (rec.state.Running) return;
    await this.ctx.live.get(rec.id)?.exited?.catch(() => undefined);
  }

  mountsInUse(): Set<string> {
    const ids = new Set(
      this.ctx.store
        .all()
        .filter((c) => c.state.Running)
        .map((c) => c.id),
    );
    for (const [id, live] of this.ctx.live) if (live.proc || live.rootfsRefs > 0 || live.tearingDown) ids.add(id);
    return ids;
  }

  withRootfs<T>(ref: string, fn: (rootfs: string, c: ContainerRecord) => Promise<T>): Promise<T> {
    return withRootfs(this.ctx, ref, fn);
  }
  withRootfsTree<T>(ref: string, fn: (dirFd: number, c: ContainerRecord) => Promise<T>): Promise<T> {
    return withRootfsTree(this.ctx, ref, fn);
  }

  async top(ref: string, psArgs: string): Promise<TopResult> {
    const rec = this.ctx.store.get(ref);
    if (!rec.state.Running) throw new Conflict(`Container ${rec.id} is not running`);
    return top(await this.ctx.runtime.pids(rec.id), psArgs);
  }

  resize(ref: string, height: number, width: number): void {
    const rec = this.ctx.store.get(ref);
    const proc = liveOf(this.ctx, rec.id).proc;
    if (!proc) throw new Conflict(`Container ${rec.id} is not running`);
    proc.resize(height, width);
  }

  async connectNetwork(ref: string, network: string, endpointConfig?: Record<string, any>): Promise<void> {
    await connectNetwork(this.ctx, this.ctx.store.get(ref), network, endpointConfig);
  }

  async disconnectNetwork(ref: string, network: string): Promise<void> {
    await disconnectNetwork(this.ctx, this.ctx.store.get(ref), network);
  }

  /** POST /containers/prune: every stopped container matching the filters. */
  prune(filters: Map<string, string[]>): Promise<PruneReport> {
    return pruneContainers(this.ctx, filters, (id) => this.remove(id, {}));
  }

  /** Daemon shutdown: every running container stopped, starts refused from here on. */
  shutdown(): Promise<void> {
    return shutdownContainers(this.ctx);
  }
  /** The longest time shutdown() may wait for a container, in seconds. */
  shutdownSeconds(): number {
    return shutdownSeconds(this.ctx);
  }
  /** Names of the containers that still have a process (for a shutdown that takes too long). */
  stillRunning(): string[] {
    return stillRunning(this.ctx);
  }
  /** A forced shutdown: SIGKILL to every container's init, now and without waiting. */
  killAllNow(): void {
    killAllNow(this.ctx);
  }

  /** Daemon start: what a crash left behind is cleaned up or finished (recover.ts). */
  recover(): Promise<void> {
    return recoverContainers(
      this.ctx,
      (id, volumes) => this.remove(id, { force: true, volumes }),
      (id) => this.start(id),
    );
  }
}

export async function createContainerService(deps: ContainerServiceDeps): Promise<ContainerManager> {
  const runtime = createRuncRuntime({ stateRoot: path.join(deps.execRoot, 'runc') });
  const ctx: Ctx = {
    ...deps,
    runtime,
    store: new ContainerStore(deps.db),
    incomplete: new Incomplete(deps.db),
    projectIds: new ProjectIds(deps.db),
    live: new Map(),
    shuttingDown: false,
  };
  const manager = new ContainerManager(ctx);
  await manager.recover();
  return manager;
}
