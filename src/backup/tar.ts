// Export and import as plain tar streams, the format of the hand method
// (`tar czf … -C /source .` / `tar xzf … -C /target`). Exports are GNU tar's: it keeps owners
// (numerically), modes, xattrs and ACLs, hardlinks and holes of sparse files, and is fast.
// Imports are extracted by the archive room's own confined writer (the one layers use) into a
// staging directory that then replaces the volume's content: the parser that checks each entry
// is the one that writes it (a check by one tar reader and an extraction by another would let
// entries the first skips, e.g. inside a hardlink's data, reach the volume unchecked).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { SystemError } from '../errors.js';
import { extractUntrusted, type UntrustedSummary } from '../archive/index.js';
import { replaceContent } from './swap.js';

export type TarSummary = UntrustedSummary;

const KEEP = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

function runTar(args: string[], stdio: 'pipe' | 'ignore' = 'ignore') {
  return spawn('tar', args, { stdio: ['ignore', stdio, 'pipe'] });
}

function exitOf(child: ReturnType<typeof runTar>, what: string): Promise<void> {
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (err.length < 8192) err += s;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new SystemError(`${what}: ${err.trim() || `tar exited with ${code}`}`)),
    );
  });
}

/** A tar stream of `dir`'s content (entries `./…`); `done` settles when tar has finished reading. */
export function exportDirectory(dir: string): { stream: Readable; done: Promise<void> } {
  const child = runTar(
    ['--create', '--file=-', '--format=posix', '--sparse', ...KEEP, `--directory=${dir}`, '.'],
    'pipe',
  );
  const done = exitOf(child, 'export');
  done.catch(() => {});
  return { stream: child.stdout!, done };
}

/** Counts bytes passing through (for progress and results). */
export function byteCounter(onBytes?: (total: number) => void): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      t.bytes += chunk.length;
      onBytes?.(t.bytes);
      cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

/**
 * Imports the tar read from `input` (plain, gzip or zstd) as the new content of `dataDir`.
 * `scratch` is a private directory on the same filesystem (staging, trash); the caller removes it.
 */
export async function importInto(input: Readable, dataDir: string, scratch: string): Promise<TarSummary> {
  const staged = path.join(scratch, 'staged');
  fs.mkdirSync(staged, { mode: 0o700 });
  const summary = await extractUntrusted(input, staged);
  await replaceContent(dataDir, staged, path.join(scratch, 'trash'), summary.root);
  return summary;
}
