// Each daemon's own backup repository password: 32 random bytes made once and kept in
// <data-root>/backup/repository.key (mode 0600). Repositories made without an explicit password
// used to share the fixed password `strata`, so anyone able to write to one could forge a
// backup that a restore would then write into a volume; with a per-daemon key only holders of
// the key can. The key is shown by `strata volume backup-key` for disaster recovery (a new
// daemon, or plain restic, opening the repository).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The former built-in password: repositories made under it stay readable (restores then trust less of them). */
export const LEGACY_PASSWORD = 'strata';

export function keyPath(dataRoot: string): string {
  return path.join(dataRoot, 'backup', 'repository.key');
}

/** The daemon's key, created on first use; written to a temp file, fsynced and renamed so a crash never leaves half a key. */
export function daemonKey(dataRoot: string): string {
  const file = keyPath(dataRoot);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(32).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.writeSync(fd, key + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file); // never replaces a key another request made meanwhile
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return fs.readFileSync(file, 'utf8').trim();
}
