// The backup of a volume that has not changed since its last backup into the same local
// repository. restic would re-scan every file against the parent snapshot and wait on its lock
// protocol, a fixed cost that dominates a nightly backup of a quiet volume. Strata instead
// keeps, per repository and volume, a fingerprint of the volume's metadata taken (frozen)
// just before the last full backup: every path with its inode, type, mode, owner, size, link
// count, mtime and ctime (ctime moves on any content, xattr or rename change). When the
// fingerprint still matches, the new backup is a restic snapshot of the parent's tree, written
// directly (sealed with the repository's master key, named by its SHA-256 as restic names
// files); restic lists, checks, restores and prunes it like its own.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { masterKeys, seal } from './restic-key.js';

/** A digest of every entry's metadata under `dir`, in a stable order, and the number of regular files. */
export function volumeFingerprint(dir: string): { digest: string; files: number } {
  const h = crypto.createHash('sha256');
  let files = 0;
  const walk = (rel: string): void => {
    const abs = rel ? path.join(dir, rel) : dir;
    const names = fs.readdirSync(abs).sort();
    for (const name of names) {
      const p = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, p), { bigint: true });
      h.update(`${p}\0${st.ino}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.nlink}\0${st.mtimeNs}\0${st.ctimeNs}\n`);
      const type = Number(st.mode) & 0o170000;
      if (type === 0o040000) walk(p);
      else if (type === 0o100000) files++;
    }
  };
  const root = fs.lstatSync(dir, { bigint: true });
  h.update(`.\0${root.mode}\0${root.uid}\0${root.gid}\n`);
  walk('');
  return { digest: h.digest('hex'), files };
}

export interface LastBackup {
  fingerprint: string;
  snapshot: string;
  tree: string;
  paths: string[];
  hostname: string;
  username: string;
  tags: string[];
}

/** Per-repository, per-volume records of the last full backup, under the daemon's data root. */
export class BackupJournal {
  constructor(private readonly dir: string) {}

  private file(repository: string, volume: string): string {
    const key = crypto.createHash('sha256').update(`${repository}\0${volume}`).digest('hex');
    return path.join(this.dir, `${key}.json`);
  }

  get(repository: string, volume: string): LastBackup | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file(repository, volume), 'utf8')) as LastBackup;
    } catch {
      return undefined;
    }
  }

  put(repository: string, volume: string, rec: LastBackup): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const target = this.file(repository, volume);
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
    fs.renameSync(tmp, target);
  }

  drop(repository: string, volume: string): void {
    fs.rmSync(this.file(repository, volume), { force: true });
  }
}

/** Whether backup `snapshot` is still in the local repository (retention may have removed it). */
export function snapshotExists(repo: string, snapshot: string): boolean {
  return fs.existsSync(path.join(repo, 'snapshots', snapshot));
}

/** Writes a snapshot of `last`'s tree dated now, with `last` as parent; returns its ID. */
export function repeatSnapshot(repo: string, password: string, last: LastBackup): string {
  const snapshot = {
    time: new Date().toISOString(),
    parent: last.snapshot,
    tree: last.tree,
    paths: last.paths,
    hostname: last.hostname,
    username: last.username,
    ...(process.getuid?.() ? { uid: process.getuid!(), gid: process.getgid!() } : {}),
    tags: last.tags,
  };
  // Format 2 stores small files compressed or as plain JSON; plain JSON needs no codec.
  const sealed = seal(masterKeys(repo, password), Buffer.from(JSON.stringify(snapshot)));
  const id = crypto.createHash('sha256').update(sealed).digest('hex');
  const target = path.join(repo, 'snapshots', id);
  const tmp = path.join(repo, 'snapshots', `.${id}-tmp-${os.hostname()}-${process.pid}`);
  const fd = fs.openSync(tmp, 'wx', 0o400);
  try { fs.writeSync(fd, sealed); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, target);
  return id;
}
