// Volume backups as engine verbs: export/import, backup/list/restore/verify with retention,
// clone. Each verb resolves volumes through the volume service, freezes the running containers
// that use a volume while it is read (freeze.ts), and writes into a volume only through a
// staging tree swapped in once complete (swap.ts), refusing volumes in use unless forced.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { Conflict, Forbidden, NotFound } from '../errors.js';
import type { ContainerService } from '../container/types.js';
import type { VolumeRecord, VolumeService } from '../volume/types.js';
import { needsMount } from '../volume/local-options.js';
import { snapshotDataDir } from '../volume/quota.js';
import type { Logger } from '../util/log.js';
import { withFrozenUsers, type ContainerFreezer } from './freeze.js';
import { exportDirectory, importInto, type TarSummary } from './tar.js';
import { isLocal, repositoryOf, type Repository } from './restic.js';
import { BackupJournal, repeatSnapshot, snapshotExists, volumeFingerprint } from './unchanged.js';
import {
  applyRetention,
  backupDirectory,
  findBackup,
  listBackups,
  restoreInto,
  restoreSize,
  verifyRepository,
  type BackupInfo,
  type BackupSummary,
  type Progress,
  type Retention,
} from './repository.js';
import { replaceContent, type RootAttributes } from './swap.js';
import { digHoles } from './sparse.js';
import { restoreLocal } from './restore-local.js';
import { daemonKey, keyPath, LEGACY_PASSWORD } from './daemon-key.js';
import { masterKeys } from './restic-key.js';
import { checkRestored, checkRoot } from './restore-rules.js';
import type { BackupBackend, RepositoryOptions } from './backend.js';

/** A repository with the password that opens it; `legacy`: only the former public password does. */
type OpenRepository = Repository & { legacy: boolean };

const run = promisify(execFile);

/** What backups ask of the volume room: volumes by name, new and removed ones, and their users. */
export type BackupVolumes = Pick<VolumeService, 'get' | 'create' | 'remove' | 'users'>;

export interface VolumeBackupDeps {
  volumes: BackupVolumes;
  containers: Pick<ContainerService, 'get'>;
  /** How the running users of a volume are frozen while it is read. */
  freezer: ContainerFreezer;
  /** Staging lives in <dataRoot>/tmp: the volumes' filesystem, so swaps are renames. */
  dataRoot: string;
  log?: Logger;
}

const ROOT_TAG = 'root:';

function rootTag(dir: string): string {
  const st = fs.statSync(dir);
  return `${ROOT_TAG}${(st.mode & 0o7777).toString(8)}:${st.uid}:${st.gid}`;
}

function rootOf(b: BackupInfo): RootAttributes | undefined {
  const t = b.Tags.find((x) => x.startsWith(ROOT_TAG));
  if (!t) return undefined;
  const [mode, uid, gid] = t.slice(ROOT_TAG.length).split(':');
  return { mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid) };
}

/** Sums allocated bytes under `dir` (restore progress: restic 0.14 reports none). */
async function allocated(dir: string): Promise<number> {
  let sum = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.promises.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) sum += ((await fs.promises.lstat(p).catch(() => undefined))?.blocks ?? 0) * 512;
    }
  };
  await walk(dir);
  return sum;
}

export class VolumeBackups implements BackupBackend {
  private readonly journal: BackupJournal;

  constructor(private readonly deps: VolumeBackupDeps) {
    this.journal = new BackupJournal(path.join(deps.dataRoot, 'volume-backups'));
  }

  private async scratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const base = path.join(this.deps.dataRoot, 'tmp');
    fs.mkdirSync(base, { recursive: true, mode: 0o700 });
    // The daemon's start looks for this prefix in tmp/ to finish a swap a crash cut short (swap.ts).
    const dir = fs.mkdtempSync(path.join(base, 'volume-backup-'));
    try {
      return await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The daemon's own repository key (created on first use) and where it is kept. */
  key(): { key: string; path: string } {
    return { key: daemonKey(this.deps.dataRoot), path: keyPath(this.deps.dataRoot) };
  }

  /**
   * Runs `fn` on the repository opened with the user's password, else with the daemon's key; a
   * repository made under the former built-in password still opens with it (then `legacy`).
   * A local repository is tried with each candidate's key file (no restic run); a remote one by
   * running `fn` again when restic refuses the key (nothing is written before it opens).
   */
  private async withRepo<T>(opts: RepositoryOptions, fn: (repo: OpenRepository) => Promise<T>): Promise<T> {
    if (opts.password) {
      const repo = repositoryOf(opts.repository, opts.password);
      return fn({ ...repo, legacy: opts.password === LEGACY_PASSWORD });
    }
    const repo = repositoryOf(opts.repository, daemonKey(this.deps.dataRoot));
    if (isLocal(repo.location)) {
      if (fs.existsSync(path.join(repo.location, 'config'))) {
        const opens = (pw: string) => {
          try {
            masterKeys(repo.location, pw);
            return true;
          } catch {
            return false;
          }
        };
        if (!opens(repo.password) && opens(LEGACY_PASSWORD))
          return fn({ ...repo, password: LEGACY_PASSWORD, legacy: true });
      }
      return fn({ ...repo, legacy: false });
    }
    try {
      return await fn({ ...repo, legacy: false });
    } catch (err) {
      if (!(err instanceof Forbidden)) throw err;
      return fn({ ...repo, password: LEGACY_PASSWORD, legacy: true });
    }
  }

  private frozen<T>(vol: VolumeRecord, action: string, force: boolean | undefined, fn: () => Promise<T>): Promise<T> {
    return withFrozenUsers(
      this.deps.containers,
      this.deps.freezer,
      this.deps.volumes.users(vol.name),
      vol.name,
      { action, force },
      this.deps.log,
      fn,
    );
  }

  /** Refuses to write into a volume that containers use, as `docker volume rm` does. */
  private refuseInUse(name: string, action: string, force?: boolean): void {
    const users = this.deps.volumes.users(name);
    if (users.length > 0 && !force) throw new Conflict(`${action} ${name}: volume is in use - [${users.join(', ')}]`);
  }

  /** Creates the volume when missing; `created` says whether to remove it again on failure. */
  private async target(name: string): Promise<{ vol: VolumeRecord; created: boolean }> {
    try {
      return { vol: await this.deps.volumes.get(name), created: false };
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      return { vol: await this.deps.volumes.create({ name }), created: true };
    }
  }

  private async writeInto<T>(
    name: string,
    action: string,
    force: boolean | undefined,
    fn: (vol: VolumeRecord, scratch: string) => Promise<T>,
  ): Promise<T> {
    this.refuseInUse(name, action, force);
    const { vol, created } = await this.target(name);
    try {
      return await this.scratch((dir) => fn(vol, dir));
    } catch (err) {
      if (created) await this.deps.volumes.remove(name).catch(() => {});
      throw err;
    }
  }

  /** A tar of the volume; running users stay frozen until the stream has been read. `done` settles then. */
  async export(name: string, opts: { force?: boolean } = {}): Promise<{ stream: Readable; done: Promise<void> }> {
    const vol = await this.deps.volumes.get(name);
    return new Promise((resolve, reject) => {
      let stream: Readable | undefined;
      const whole = this.frozen(vol, 'export', opts.force, async () => {
        const out = exportDirectory(vol.mountpoint);
        stream = out.stream;
        setImmediate(() => resolve({ stream: out.stream, done: whole }));
        await out.done;
      });
      whole.catch((err) => {
        if (!stream) reject(err);
      });
    });
  }

  async import(
    name: string,
    input: Readable,
    opts: { force?: boolean } = {},
  ): Promise<TarSummary & { Volume: string }> {
    return this.writeInto(name, 'import', opts.force, async (vol, scratch) => ({
      ...(await importInto(input, vol.mountpoint, scratch)),
      Volume: vol.name,
    }));
  }

  async backup(
    names: string[],
    opts: RepositoryOptions & Retention & { force?: boolean },
    onProgress?: (volume: string, p: Progress) => void,
  ): Promise<{ backups: BackupSummary[]; removed: string[] }> {
    const vols = await Promise.all(names.map((n) => this.deps.volumes.get(n)));
    return this.withRepo(opts, async (repo) => {
      const backups: BackupSummary[] = [];
      for (const vol of vols) {
        backups.push(await this.frozen(vol, 'backup', opts.force, () => this.backupOne(repo, vol, onProgress)));
      }
      const { removed } = await applyRetention(repo, opts);
      return { backups, removed };
    });
  }

  /** One volume, its containers frozen: a repeat of the last backup if nothing changed (unchanged.ts), else restic. */
  private async backupOne(
    repo: Repository,
    vol: VolumeRecord,
    onProgress?: (volume: string, p: Progress) => void,
  ): Promise<BackupSummary> {
    const started = Date.now();
    const local = isLocal(repo.location);
    // Without a fingerprint (a remote repository, or the walk failed) restic does a full backup.
    const print = local
      ? await volumeFingerprint(vol.mountpoint).catch((err: Error) => {
          this.deps.log?.warn(err.message);
          return undefined;
        })
      : undefined;
    const fingerprint = print?.digest;
    const files = print?.files ?? 0;
    const last = fingerprint ? this.journal.get(repo.location, vol.name) : undefined;
    if (last && last.fingerprint === fingerprint && snapshotExists(repo.location, last.snapshot)) {
      const id = repeatSnapshot(repo.location, repo.password, last);
      this.journal.put(repo.location, vol.name, { ...last, snapshot: id });
      return {
        ID: id,
        ShortID: id.slice(0, 8),
        Volume: vol.name,
        BytesProcessed: 0,
        BytesAdded: 0,
        FilesNew: 0,
        FilesChanged: 0,
        FilesUnmodified: files,
        DurationSeconds: (Date.now() - started) / 1000,
      };
    }
    const { info, ...summary } = await backupDirectory(
      repo,
      vol.mountpoint,
      vol.name,
      (p) => onProgress?.(vol.name, p),
      [rootTag(vol.mountpoint)],
    );
    if (!fingerprint || !info) {
      if (local) this.journal.drop(repo.location, vol.name);
    } else {
      this.journal.put(repo.location, vol.name, {
        fingerprint,
        snapshot: info.ID,
        tree: info.Tree,
        paths: info.Paths,
        hostname: info.Hostname,
        username: info.Username,
        tags: info.Tags,
      });
    }
    return summary;
  }

  async list(opts: RepositoryOptions, volume?: string): Promise<BackupInfo[]> {
    return this.withRepo(opts, (repo) => listBackups(repo, volume));
  }

  /** Restores backup `ref` (an ID or `latest`) of `volume` into `opts.target` (default: `volume`). */
  async restore(
    volume: string,
    ref: string,
    opts: RepositoryOptions & { target?: string; force?: boolean },
    onProgress?: (p: Progress) => void,
  ): Promise<{ Backup: BackupInfo; Volume: string }> {
    const target = opts.target || volume;
    this.refuseInUse(target, 'restore', opts.force);
    return this.withRepo(opts, (repo) => this.restoreFrom(repo, volume, ref, target, opts.force, onProgress));
  }

  private async restoreFrom(
    repo: OpenRepository,
    volume: string,
    ref: string,
    target: string,
    force: boolean | undefined,
    onProgress?: (p: Progress) => void,
  ): Promise<{ Backup: BackupInfo; Volume: string }> {
    const backup = await findBackup(repo, ref, volume);
    const root = checkRoot(rootOf(backup));
    return this.writeInto(target, 'restore', force, async (vol, scratch) => {
      const staged = path.join(scratch, 'staged');
      fs.mkdirSync(staged, { mode: 0o700 });
      const progress = onProgress ? (p: { bytes: number }) => onProgress({ current: p.bytes }) : undefined;
      // Local repositories are read directly (restorer.ts); remote ones, and snapshots with
      // device nodes or sockets, through `restic restore`.
      // Both ways refuse device nodes, and drop setuid/setgid bits from a legacy repository
      // (restore-rules.ts): the direct reader as it goes, restic's tree once written.
      const direct =
        isLocal(repo.location) &&
        (await restoreLocal(repo.location, repo.password, backup.ID, staged, progress, repo.legacy));
      if (!direct) {
        fs.rmSync(staged, { recursive: true, force: true });
        fs.mkdirSync(staged, { mode: 0o700 });
        await this.resticRestore(repo, backup.ID, staged, onProgress);
        await checkRestored(staged, { legacy: repo.legacy });
        await digHoles(staged);
      }
      await replaceContent(
        vol.mountpoint,
        staged,
        path.join(scratch, 'trash'),
        root && repo.legacy ? { ...root, mode: root.mode & 0o1777 } : root,
      );
      return { Backup: backup, Volume: vol.name };
    });
  }

  private async resticRestore(
    repo: Repository,
    id: string,
    staged: string,
    onProgress?: (p: Progress) => void,
  ): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    if (onProgress) {
      const total = await restoreSize(repo, id).catch(() => undefined);
      timer = setInterval(() => {
        void allocated(staged).then((n) => onProgress({ current: total ? Math.min(n, total) : n, total }));
      }, 1000);
    }
    try {
      await restoreInto(repo, id, staged);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  async verify(opts: RepositoryOptions): Promise<{ ok: true; output: string }> {
    return this.withRepo(opts, (repo) => verifyRepository(repo));
  }

  async forget(opts: RepositoryOptions & Retention): Promise<{ removed: string[] }> {
    return this.withRepo(opts, (repo) => applyRetention(repo, opts));
  }

  /**
   * A new volume with `source`'s content and labels: a btrfs snapshot between local volumes on
   * btrfs, reflinks where the filesystem shares extents, a copy otherwise.
   */
  async clone(source: string, dest: string, opts: { force?: boolean } = {}): Promise<VolumeRecord> {
    const src = await this.deps.volumes.get(source);
    const exists = await this.deps.volumes.get(dest).then(
      () => true,
      (e) => {
        if (e instanceof NotFound) return false;
        throw e;
      },
    );
    if (exists) throw new Conflict(`clone ${source}: volume ${dest} already exists`);
    const dst = await this.deps.volumes.create({ name: dest, labels: src.labels });
    try {
      await this.frozen(src, 'clone', opts.force, async () => {
        // Two local volumes on btrfs: a snapshot of the source's subvolume, in one ioctl.
        const local = src.driver === 'local' && dst.driver === 'local' && !needsMount(src.options);
        if (local && snapshotDataDir(src.mountpoint, dst.mountpoint)) return;
        await run('cp', ['-a', '--reflink=auto', src.mountpoint + '/.', dst.mountpoint + '/']);
      });
      return dst;
    } catch (err) {
      await this.deps.volumes.remove(dest).catch(() => {});
      throw err;
    }
  }
}
