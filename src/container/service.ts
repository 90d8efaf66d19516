// The container service: create/start/stop/kill/restart/wait/remove/rename/prune and the
// reads the API needs, behind the roles of backend.ts (the API sees only those). Lifecycle
// operations on one container are serialised by a lock; the runtime's exit drives state,
// events, --rm and restart policies.
//
// Containers do not outlive the daemon (Docker without live-restore behaves the same):
// shutdown() stops every running container. A container that was running when the daemon was
// killed is recorded as exited (255) at the next start, after its runc leftovers are deleted
// and its rootfs unmounted; creates and removals the daemon did not finish are rolled back or
// finished, and AutoRemove containers are removed (recover.ts).
import fs from 'node:fs';
import path from 'node:path';
import { Conflict, InvalidParameter, NotFound, NotModified, Unavailable, isNotFound } from '../errors.js';
import { createRuncRuntime } from '../runtime/runc.js';
import { isMountPoint, unmount } from '../mount/kernel.js';
import type { ContainerRecord, ContainerService } from './types.js';
import { ContainerStore, nameConflict } from './store.js';
import { bundleDir, containerDir, emit, liveOf, nowIso, withLock, type Ctx, type Live } from './context.js';
import { createContainer, type CreateBody } from './create.js';
import { shouldRestart, startContainer } from './start.js';
import { validateName } from './names.js';
import { acquireRootfs, releaseRootfs } from './rootfs.js';
import { bindInRoot, openMountSource } from './bind-in-root.js';
import { detachMount, openDetachedCopy } from '../mount/fd-mount.js';
import { openTrustedDirectory } from '../mount/in-root.js';
import { top, type TopResult } from './top.js';
import { pruneContainers, type PruneReport } from './prune.js';
import { checkSignalForPlatform, normalizeSignal, parseSignal, signalNumber } from './signals.js';
import type { AttachClient } from './stream-hub.js';
import { attachContainer, type AttachConnection, type AttachOptions } from './attach.js';
import { ExecStore } from './exec.js';
import type { ContainerServiceDeps } from './deps.js';
import type { ContainerBackend, ListOptions, WaitCondition } from './backend.js';
import type { ContainerOpsDeps } from './ops-deps.js';
import { inspectJson, listJson, listMemo, statusText } from './view.js';
import { psFilter } from './filters.js';
import { removeLink, renameInLinks } from './links.js';
import { updateContainer, type UpdateBody } from './update.js';
import { checkLogsReadable, streamLogs, type LogOptions } from './logs.js';
import { statsSample, type StatsJson } from './stats.js';
import type { ExecConfig, ExecInstance } from './exec.js';
import type { RuntimeProcess } from '../runtime/types.js';
import { copyFromContainer, copyToContainer, statContainerPath, type ExtractOptions } from './archive-ops.js';
import { containerChanges, exportContainer } from './changes-ops.js';
import { commitContainer, type CommitOptions } from './commit-ops.js';
import type { Change, PathStat } from '../archive/types.js';
import type { Readable, Writable } from 'node:stream';
import { Incomplete } from '../meta/incomplete.js';
import { REMOVE_MARK, finishInterrupted, removeAutoRemoved } from './recover.js';
import { removeTreeNoCross } from '../mount/scratch.js';
import { hasLayerSizeLimit, releaseLayerSizeLimit } from './storage-opts.js';
import { releaseIpc } from './ipc.js';
import { imageMountForCopy, removeImageMountSnapshots, usesImage } from './image-mount.js';
import { releaseStaging, stagingDirOf } from '../mount/staging.js';
import { randomBytes } from 'node:crypto';

export type { ContainerServiceDeps } from './deps.js';
import { startHealthMonitor } from './health.js';
import { connectNetwork, disconnectNetwork } from './network-connect.js';

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

  statPath(ref: string, path: string): Promise<PathStat> {
    return statContainerPath(this.ops, ref, path);
  }
  archivePath(ref: string, path: string, onStat: (stat: PathStat) => void, out: Writable): Promise<void> {
    return copyFromContainer(this.ops, ref, path, onStat, out);
  }
  extractToDir(ref: string, path: string, body: Readable, opts: ExtractOptions): Promise<void> {
    return copyToContainer(this.ops, ref, path, body, opts);
  }
  export(ref: string, out: Writable, onStart: () => void): Promise<void> {
    return exportContainer(this.ops, ref, out, onStart);
  }
  commit(ref: string, opts: CommitOptions): Promise<{ Id: string }> {
    return commitContainer(this.ops, ref, opts);
  }
  changes(ref: string): Promise<Change[]> {
    return containerChanges(this.ops, ref);
  }

  create(body: CreateBody, name: string | null, apiVersion: string): Promise<ContainerRecord> {
    return createContainer(this.ctx, body, name, apiVersion);
  }

  async start(ref: string): Promise<void> {
    const rec = this.ctx.store.get(ref);
    const markedForRemoval = () => {
      const live = liveOf(this.ctx, rec.id);
      if (live.removing || this.awaitsAutoRemoval(rec, live)) {
        throw new Conflict(`container is marked for removal and cannot be started`);
      }
    };
    // Checked before the lock too: a removal holds it throughout, and dockerd answers at once.
    markedForRemoval();
    await withLock(this.ctx, rec.id, async () => {
      // Removed while this start waited for the lock (an AutoRemove exit got there first).
      if (!this.ctx.store.all().some((c) => c.id === rec.id)) {
        throw new NotFound(`No such container: ${ref}`);
      }
      markedForRemoval();
      const live = liveOf(this.ctx, rec.id);
      if (rec.state.Running) throw new NotModified('container already started');
      if (this.ctx.shuttingDown) throw new Unavailable('the daemon is shutting down');
      try {
        await startContainer(this.ctx, rec);
      } catch (err) {
        // Docker removes an AutoRemove container that failed to start: `docker run --rm` waits for that.
        if (rec.hostConfig.AutoRemove) {
          setImmediate(() => void this.remove(rec.id, { force: true, volumes: true }).catch(() => undefined));
        }
        throw err;
      }
      live.health = startHealthMonitor(this.ctx, this.execs, rec);
      void live.exited?.then(() => this.afterExit(rec));
    });
  }

  private async afterExit(rec: ContainerRecord): Promise<void> {
    const live = liveOf(this.ctx, rec.id);
    if (rec.hostConfig.AutoRemove && !live.removing && !live.restartingByUser && !this.ctx.shuttingDown) {
      live.autoRemoval = this.remove(rec.id, { force: true, volumes: true }).catch((e: unknown) =>
        this.ctx.log.warn(`auto-remove ${rec.id}: ${e}`),
      );
      await live.autoRemoval;
      return;
    }
    if (shouldRestart(this.ctx, rec, live)) {
      rec.restartCount = (rec.restartCount ?? 0) + 1;
      await this.start(rec.id).catch((e: unknown) => this.ctx.log.warn(`restart ${rec.id}: ${e}`));
    }
  }

  /** Sends the stop signal, then SIGKILL after `timeout` seconds; 304 when not running. */
  async stop(ref: string, timeout?: number, signal?: string): Promise<void> {
    const rec = this.ctx.store.get(ref);
    const live = liveOf(this.ctx, rec.id);
    await withLock(this.ctx, rec.id, async () => {
      if (!rec.state.Running) throw new NotModified('container already stopped');
      await this.stopRunning(rec, timeout, signal);
    });
    // After `docker stop` of an AutoRemove container the container is gone, as with dockerd, whose
    // removal runs as the exit is handled; a kill returns without waiting for it, as dockerd's does.
    await live.autoRemoval;
  }

  /** An AutoRemove container that has run and exited is on its way out: dockerd refuses to start it. */
  private awaitsAutoRemoval(rec: ContainerRecord, live: Live): boolean {
    return (
      !!rec.hostConfig.AutoRemove && rec.state.Status === 'exited' && !live.restartingByUser && !this.ctx.shuttingDown
    );
  }

  private async stopRunning(rec: ContainerRecord, timeout?: number, signal?: string): Promise<void> {
    const live = liveOf(this.ctx, rec.id);
    if (!live.proc) return;
    await this.thaw(rec);
    live.stoppedByUser = true;
    const exited = live.exited ?? Promise.resolve();
    const secs = timeout ?? rec.config.StopTimeout ?? 10;
    const sig = normalizeSignal(signal || rec.config.StopSignal || 'SIGTERM');
    const stopped = () => emit(this.ctx, 'stop', rec);
    if (secs !== 0) {
      emit(this.ctx, 'kill', rec, { signal: signalNumber(sig) });
      await this.ctx.runtime.kill(rec.id, sig).catch(() => undefined);
      if (secs < 0) {
        await exited;
        stopped();
        return;
      }
      const timedOut = await Promise.race([exited.then(() => false), sleep(secs * 1000).then(() => true)]);
      if (!timedOut) {
        stopped();
        return;
      }
    }
    emit(this.ctx, 'kill', rec, { signal: '9' });
    await this.ctx.runtime.kill(rec.id, 'SIGKILL', true).catch(() => {
      // runc no longer knows the container (its state is gone) but the process is ours: without
      // this the wait below would never end.
      const pid = live.proc?.pid;
      if (pid)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
    });
    await exited;
    stopped();
  }

  async kill(ref: string, signal?: string): Promise<void> {
    // dockerd reads the signal before it looks the container up: a bad one is a 400 whatever the container.
    const num = signal ? parseSignal(signal) : 9;
    const rec = this.ctx.store.get(ref);
    if (!rec.state.Running) throw new Conflict(`Cannot kill container: ${ref}: Container ${rec.id} is not running`);
    checkSignalForPlatform(num, ref);
    const live = liveOf(this.ctx, rec.id);
    if (num === 9 || num === 15 || num === 2) live.stoppedByUser = true;
    await this.ctx.runtime.kill(rec.id, num === 9 ? 'SIGKILL' : String(num));
    emit(this.ctx, 'kill', rec, { signal: String(num) });
    if (num === 9) await live.exited;
  }

  async pause(ref: string): Promise<void> {
    const rec = this.ctx.store.get(ref);
    await withLock(this.ctx, rec.id, async () => {
      if (!rec.state.Running) throw new Conflict(`Container ${rec.id} is not running`);
      if (rec.state.Status === 'paused') throw new Conflict(`Container ${rec.id} is already paused`);
      await this.ctx.runtime.pause(rec.id);
      rec.state.Status = 'paused';
      this.ctx.store.save(rec);
      emit(this.ctx, 'pause', rec);
    });
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.ctx.store.get(ref);
    await withLock(this.ctx, rec.id, async () => {
      if (rec.state.Status !== 'paused') throw new Conflict(`Container ${rec.id} is not paused`);
      await this.ctx.runtime.resume(rec.id);
      rec.state.Status = 'running';
      this.ctx.store.save(rec);
      emit(this.ctx, 'unpause', rec);
    });
  }

  async restart(ref: string, timeout?: number): Promise<void> {
    const rec = this.ctx.store.get(ref);
    const live = liveOf(this.ctx, rec.id);
    // dockerd keeps an AutoRemove container through a restart: its stop is not the end of it.
    live.restartingByUser = true;
    try {
      await withLock(this.ctx, rec.id, async () => {
        if (rec.state.Running) await this.stopRunning(rec, timeout);
      });
      await this.start(rec.id);
    } finally {
      live.restartingByUser = false;
    }
    rec.restartCount = rec.restartCount ?? 0;
    emit(this.ctx, 'restart', rec);
  }

  /** A frozen container cannot act on a signal: thaw it first (Docker does the same for stop and rm -f). */
  private async thaw(rec: ContainerRecord): Promise<void> {
    if (rec.state.Status !== 'paused') return;
    await this.ctx.runtime.resume(rec.id).catch(() => undefined);
    rec.state.Status = 'running';
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

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean }): Promise<void> {
    const rec = this.ctx.store.get(ref);
    const live = liveOf(this.ctx, rec.id);
    if (live.removing) throw new Conflict(`removal of container ${rec.id} is already in progress`);
    await withLock(this.ctx, rec.id, async () => {
      if (rec.state.Running) {
        if (!opts.force) {
          throw new Conflict(
            `You cannot remove a running container ${rec.id}. Stop the container before attempting removal or force remove`,
          );
        }
        live.stoppedByUser = true;
        await this.thaw(rec);
        // dockerd's forced removal is a kill like any other: `kill` (signal 9), then `die`, then `destroy`.
        emit(this.ctx, 'kill', rec, { signal: '9' });
        await this.ctx.runtime.kill(rec.id, 'SIGKILL', true).catch(() => undefined);
      }
      await live.exited;
      live.removing = true;
      rec.state.Status = 'removing';
      // A removal the daemon does not live to finish is finished at the next start.
      this.ctx.incomplete.begin(REMOVE_MARK, rec.id, { volumes: !!opts.volumes });
      try {
        await this.removeStorage(rec, !!opts.volumes);
      } catch (err) {
        live.removing = false;
        rec.state.Status = 'dead';
        this.ctx.incomplete.transaction(() => {
          this.ctx.store.save(rec);
          this.ctx.incomplete.end(REMOVE_MARK, rec.id);
        });
        throw err;
      }
      this.ctx.incomplete.transaction(() => {
        this.ctx.store.delete(rec.id);
        this.ctx.incomplete.end(REMOVE_MARK, rec.id);
      });
      emit(this.ctx, 'destroy', rec);
      for (const w of live.removeWaiters.splice(0)) w(rec.state.ExitCode);
      for (const w of live.exitWaiters.splice(0)) w(rec.state.ExitCode);
      live.log.close();
      this.execs.forget(rec.id);
      this.ctx.live.delete(rec.id);
    });
  }

  private async removeStorage(rec: ContainerRecord, removeVolumes: boolean): Promise<void> {
    if (await isMountPoint(rec.rootfsPath)) await unmount(rec.rootfsPath, { lazy: true });
    if (hasLayerSizeLimit(rec.hostConfig.StorageOpt)) {
      await releaseLayerSizeLimit(this.ctx.snapshotter, rec.snapshotKey).catch((e: unknown) => {
        if (!isNotFound(e)) this.ctx.log.warn(`container ${rec.id}: ${(e as Error).message}`);
      });
    }
    await this.ctx.snapshotter.remove(rec.snapshotKey).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    if (rec.initSnapshot) {
      await this.ctx.snapshotter.remove(rec.initSnapshot).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
    }
    await removeImageMountSnapshots(this.ctx.snapshotter, rec.id);
    for (const m of rec.mounts) {
      if (m.type !== 'volume' || !m.source) continue;
      try {
        this.ctx.volumes.release(m.source, rec.id);
      } catch {
        /* already gone */
      }
      // Only anonymous volumes go with `rm -v`; one still used elsewhere stays (B4).
      if (removeVolumes && (rec.anonymousVolumes ?? []).includes(m.source)) {
        await this.ctx.volumes.remove(m.source).catch(() => undefined);
      }
    }
    removeTreeNoCross(containerDir(this.ctx, rec.id));
    removeTreeNoCross(bundleDir(this.ctx, rec.id));
  }

  async update(ref: string, body: UpdateBody): Promise<string[]> {
    return updateContainer(this.ctx, this.ctx.store.get(ref), body);
  }

  removeLink(ref: string): void {
    removeLink(this.ctx, ref);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = this.ctx.store.get(ref);
    if (!newName) throw new InvalidParameter('Neither old nor new names may be empty');
    const name = validateName(newName);
    if (name === rec.name) throw new InvalidParameter('Renaming a container with the same name as its current name');
    const other = this.ctx.store.byName(name);
    if (other) throw nameConflict(name, other.id);
    const oldName = rec.name;
    rec.name = name;
    this.ctx.store.save(rec);
    renameInLinks(this.ctx, rec, oldName);
    emit(this.ctx, 'rename', rec, { oldName: `/${oldName}` });
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

  /** docker cp: the rootfs with volumes and binds in place, as Docker mounts them for archive ops. */
  async withRootfs<T>(ref: string, fn: (rootfs: string, c: ContainerRecord) => Promise<T>): Promise<T> {
    const rec = this.ctx.store.get(ref);
    const rootfs = await acquireRootfs(this.ctx, rec);
    const placed: number[] = [];
    const volumes: string[] = [];
    let rootFd: number | undefined;
    let copyStaging: string | undefined;
    try {
      rootFd = openTrustedDirectory(rootfs);
      for (const m of [...rec.mounts].sort((a, b) => a.destination.length - b.destination.length)) {
        if (m.type === 'tmpfs') continue;
        let source = m.source;
        if (m.type === 'image') {
          copyStaging ??= `${stagingDirOf(this.ctx.dataRoot, rec.id)}-copy-${randomBytes(6).toString('hex')}`;
          const running = rec.state.Running ? stagingDirOf(this.ctx.dataRoot, rec.id) : undefined;
          source = await imageMountForCopy(this.ctx.snapshotter, m, rec.mounts.indexOf(m), running, copyStaging);
        }
        if (m.type === 'volume') {
          source = await this.ctx.volumes.mount(m.source, rec.id);
          volumes.push(m.source);
        }
        const sourceFd = openMountSource(source, m.type === 'volume' ? m.subpath : undefined);
        if (sourceFd === undefined) continue;
        try {
          placed.push(bindInRoot(rootFd, sourceFd, m.destination, m.readOnly));
        } finally {
          fs.closeSync(sourceFd);
        }
      }
      return await fn(rootfs, rec);
    } finally {
      // Through each mount's own fd, innermost first: exactly what this copy placed, nothing else.
      for (const fd of placed.reverse()) {
        try {
          detachMount(fd);
        } catch (e) {
          this.ctx.log.warn(`container ${rec.id}: unmount after copy: ${e}`);
        }
      }
      if (rootFd !== undefined) fs.closeSync(rootFd);
      if (copyStaging) await releaseStaging(copyStaging).catch((e: unknown) => this.ctx.log.warn(`copy: ${e}`));
      for (const v of volumes) await this.ctx.volumes.unmount(v, rec.id).catch(() => undefined);
      await releaseRootfs(this.ctx, rec);
    }
  }

  /**
   * docker export: the rootfs alone (no volumes, binds or tmpfs), read through a detached copy of
   * its mount, which is the running container's own while it runs: its layers are never mounted a
   * second time, as a second overlay on a writable layer in use would be.
   */
  async withRootfsTree<T>(ref: string, fn: (dirFd: number, c: ContainerRecord) => Promise<T>): Promise<T> {
    const rec = this.ctx.store.get(ref);
    const rootfs = await acquireRootfs(this.ctx, rec);
    try {
      const pathFd = openTrustedDirectory(rootfs);
      let copy: { mountFd: number; dirFd: number };
      try {
        copy = openDetachedCopy(pathFd);
      } finally {
        fs.closeSync(pathFd);
      }
      try {
        return await fn(copy.dirFd, rec);
      } finally {
        fs.closeSync(copy.dirFd);
        fs.closeSync(copy.mountFd);
      }
    } finally {
      await releaseRootfs(this.ctx, rec);
    }
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

  /**
   * Stops every running container (daemon shutdown), each within its own stop timeout as Docker
   * does; one that waits forever (-1) gets the default, so that shutdown is always bounded.
   * Starts are refused from here on, so a restart or a restart policy racing the shutdown cannot
   * leave a container running (and its rootfs mounted) behind the daemon.
   */
  async shutdown(): Promise<void> {
    this.ctx.shuttingDown = true;
    for (let pass = 0; pass < 3; pass++) {
      const running = this.runningNow();
      if (running.length === 0) return;
      await Promise.all(
        running.map((c) =>
          this.stopRunning(c, shutdownTimeoutOf(c)).catch((e: unknown) => {
            this.ctx.log.warn(`shutdown: stop ${c.id}: ${e}`);
          }),
        ),
      );
    }
  }

  /** The longest time shutdown() may wait for a container, in seconds. */
  shutdownSeconds(): number {
    return Math.max(0, ...this.runningNow().map(shutdownTimeoutOf));
  }

  /** Names of the containers that still have a process (for a shutdown that takes too long). */
  stillRunning(): string[] {
    return this.runningNow().map((c) => c.name.replace(/^\//, ''));
  }

  /**
   * A forced shutdown: SIGKILL to every container's init, now and without waiting. Killing the
   * init of a PID namespace kills every process in it, exec'd ones included.
   */
  killAllNow(): void {
    for (const c of this.runningNow()) {
      const pid = this.ctx.live.get(c.id)?.proc?.pid;
      if (pid)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
    }
  }

  private runningNow(): ContainerRecord[] {
    return this.ctx.store.all().filter((c) => c.state.Running || this.ctx.live.get(c.id)?.proc);
  }

  /** After a crash: runc leftovers deleted, rootfs unmounted, running containers recorded as exited, interrupted operations undone or finished, AutoRemove containers removed. */
  async recover(): Promise<void> {
    for (const id of await this.ctx.runtime.list().catch(() => [] as string[])) await this.ctx.runtime.delete(id);
    for (const rec of this.ctx.store.all()) {
      if (await isMountPoint(rec.rootfsPath)) await unmount(rec.rootfsPath, { lazy: true }).catch(() => undefined);
      await releaseIpc(this.ctx, rec.id).catch(() => undefined);
      if (rec.state.Running || rec.state.Status === 'restarting' || rec.state.Status === 'removing') {
        Object.assign(rec.state, { Status: 'exited', Running: false, Pid: 0, ExitCode: 255, FinishedAt: nowIso() });
        if (rec.state.Health) rec.state.Health.Status = 'unhealthy';
        this.ctx.store.save(rec);
      }
    }
    removeTreeNoCross(path.join(this.ctx.execRoot, 'containers'));
    removeTreeNoCross(path.join(this.ctx.execRoot, 'exec-processes'));
    await finishInterrupted(this.ctx, (id, volumes) => this.remove(id, { force: true, volumes }));
    // As Docker does at restart: an AutoRemove container whose process is gone is removed.
    await removeAutoRemoved(this.ctx, (id) => this.remove(id, { force: true, volumes: true }));
    // Docker's restart policies bring back "always" containers after a daemon restart.
    for (const rec of this.ctx.store.all()) {
      const p = rec.hostConfig.RestartPolicy?.Name;
      if (p === 'always' || (p === 'unless-stopped' && rec.state.ExitCode === 255)) {
        await this.start(rec.id).catch((e: unknown) => this.ctx.log.warn(`restart ${rec.id}: ${e}`));
      }
    }
  }
}

export async function createContainerService(deps: ContainerServiceDeps): Promise<ContainerManager> {
  const runtime = createRuncRuntime({ stateRoot: path.join(deps.execRoot, 'runc') });
  const ctx: Ctx = {
    ...deps,
    runtime,
    store: new ContainerStore(deps.db),
    incomplete: new Incomplete(deps.db),
    live: new Map(),
    shuttingDown: false,
  };
  const manager = new ContainerManager(ctx);
  await manager.recover();
  return manager;
}

/** Seconds shutdown gives a container: its own stop timeout, the default when it has none or waits forever. */
function shutdownTimeoutOf(rec: ContainerRecord): number {
  const t = rec.config.StopTimeout;
  return typeof t === 'number' && t >= 0 ? t : 10;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
