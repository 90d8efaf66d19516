// runc's version, read once at daemon start, and whether it carries the November 2025 fixes
// (CVE-2025-31133, CVE-2025-52565, CVE-2025-52881: /dev/null or /dev/pts/N swapped for a
// symlink by a malicious image makes runc bind-mount the target read-write).
import { execFile } from 'node:child_process';

/**
 * "runc version 1.1.5+ds1" → "1.1.5+ds1"; undefined when runc cannot be run. Asynchronous:
 * the daemon goes on loading and probing while runc starts.
 */
export function runcVersion(binary = 'runc'): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 }, (err, out) =>
      resolve(err ? undefined : /^runc version (\S+)/m.exec(out)?.[1]),
    );
  });
}

/** Releases with the fixes: 1.2.8+, 1.3.3+, 1.4.0-rc.3 and later. */
export function lacksNovember2025Fixes(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-rc\.?(\d+))?/.exec(version);
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const rc = m[4] === undefined ? undefined : Number(m[4]);
  if (major !== 1) return major < 1;
  if (minor < 2) return true;
  if (minor === 2) return patch < 8;
  if (minor === 3) return patch < 3;
  if (minor === 4 && patch === 0 && rc !== undefined) return rc < 3;
  return false;
}

export function runcWarning(version: string | undefined): string | undefined {
  if (version === undefined || !lacksNovember2025Fixes(version)) return undefined;
  return (
    `WARNING: runc ${version} lacks the fixes for CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881 ` +
    '(runc 1.2.8, 1.3.3, 1.4.0-rc.3): a malicious image can make it mount host files read-write; run only trusted images'
  );
}
