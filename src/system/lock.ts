// One daemon per data-root. The pid file names the holder; a pid file left by a killed
// daemon (its pid gone, or now some other program) is taken over.
import fs from 'node:fs';
import path from 'node:path';

export function acquireDataRootLock(dataRoot: string): () => void {
  const file = path.join(dataRoot, 'strata.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return () => {
        if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPid(file);
      if (pid && pid !== process.pid && isStrata(pid)) {
        throw new Error(
          `another Strata daemon (pid ${pid}) is using data-root ${dataRoot}: stop it first or choose another --data-root`,
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot lock data-root ${dataRoot}`);
}

function readPid(file: string): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || undefined;
  } catch {
    return undefined;
  }
}

function isStrata(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('strata');
  } catch {
    return false;
  }
}
