// The parts of docker cp's API that need no archive code: the path parameter's check and the
// X-Docker-Container-Path-Stat header. The API uses them on every cp request, before the
// archive room (loaded at the first cp) is needed.
import { InvalidParameter } from '../errors.js';
import type { PathStat } from '../archive/types.js';

export function checkArchivePath(path: string | null): string {
  // Docker's words, missing space included.
  if (!path) throw new InvalidParameter('bad parameter: pathcannot be empty');
  return path;
}

/** The header HEAD and GET answer with: base64 of the stat JSON. */
export function pathStatHeader(stat: PathStat): string {
  const { name, size, mode, mtime, linkTarget } = stat;
  return Buffer.from(JSON.stringify({ name, size, mode, mtime, linkTarget })).toString('base64');
}
