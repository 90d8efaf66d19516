// A static program that swaps two paths with renameat2(RENAME_EXCHANGE) in a loop: the
// attacker's side of a symlink-exchange race (a directory and a symlink to "/" trading places
// atomically, so the name always exists). Static, so it runs inside a busybox container.
// Built with the host's gcc into `dir`; undefined when gcc or a static libc is missing. It exits
// at the first failed exchange, so a test can check that the attack ran all along.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SOURCE = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
/* usage: rename-exchange A B [N]: exchange A and B N times (forever without N); exits 1 at
   the first exchange that fails, so "still running" means "still swapping". */
int main(int argc, char **argv) {
  long n = argc > 3 ? atol(argv[3]) : -1;
  for (long i = 0; n < 0 || i < n; i++)
    if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */) != 0) return 1;
  return 0;
}
`;

export function buildRenameExchange(dir: string): string | undefined {
  const src = path.join(dir, 'rename-exchange.c');
  const bin = path.join(dir, 'rename-exchange');
  fs.writeFileSync(src, SOURCE);
  const r = spawnSync('gcc', ['-static', '-O2', '-o', bin, src], { encoding: 'utf8' });
  fs.rmSync(src, { force: true });
  return r.status === 0 ? bin : undefined;
}
