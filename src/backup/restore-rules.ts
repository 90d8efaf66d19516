// What a restore accepts from a backup: a repository's content is only as trustworthy as its
// password is secret, so a restore applies import's refusals to it. Device nodes are refused
// (a volume has no use for them, and a /dev/mem or a host disk node in a volume is a way into
// the host); in a repository still under the former public password (daemon-key.ts) setuid and
// setgid bits are also dropped, since anyone could have written those backups. The volume
// root's recorded mode and owner must be ones a volume can have.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameter } from '../errors.js';
import type { RootAttributes } from './swap.js';

export interface RestoreTrust {
  /** The repository opened only with the former public password. */
  legacy: boolean;
}

export function refusedDevice(p: string): InvalidParameter {
  return new InvalidParameter(
    `refusing to restore device node ${JSON.stringify(p)}: device nodes are not allowed in a volume`,
  );
}

/**
 * The volume root's attributes from a backup's tag. Permission bits, setgid and sticky are kept
 * (1777 and 2775 are real shared-volume modes); a setuid bit (meaningless on a Linux directory,
 * never recorded for a real volume) or ids out of range refuse the restore.
 */
export function checkRoot(root: RootAttributes | undefined): RootAttributes | undefined {
  if (!root) return undefined;
  const { mode, uid, gid } = root;
  const id = (v: number) => Number.isInteger(v) && v >= 0 && v < 0xffffffff;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777 || (mode & 0o4000) !== 0 || !id(uid) || !id(gid)) {
    throw new InvalidParameter(
      `refusing to restore: the backup's volume root (mode ${mode.toString(8)}, owner ${uid}:${gid}) is not one a volume can have`,
    );
  }
  return root;
}

/** Walks a tree `restic restore` wrote: refuses device nodes, drops setuid/setgid when the repository is not trusted. */
export async function checkRestored(dir: string, trust: RestoreTrust): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.promises.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isCharacterDevice() || e.isBlockDevice()) throw refusedDevice(path.relative(dir, p));
      if (e.isDirectory()) await walk(p);
      if (trust.legacy && (e.isFile() || e.isDirectory())) {
        const st = await fs.promises.lstat(p);
        if (st.mode & 0o6000) await fs.promises.chmod(p, st.mode & 0o1777);
      }
    }
  };
  await walk(dir);
}
