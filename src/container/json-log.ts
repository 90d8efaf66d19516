// The json-file log driver: <data-root>/containers/<id>/<id>-json.log, one JSON object per
// line {"log","stream","time"} exactly as Docker writes it, so tools that read Docker's files
// read ours. Lines are split on "\n"; a partial line is written when the stream ends.
//
// Rotation as Docker's loggerutils.LogFile: before an entry is written, a file that has reached
// max-size is renamed to .1 (older ones shifted to .2 … up to max-file - 1, the oldest dropped),
// or truncated when max-file is 1; so a file may exceed max-size by at most one entry. With
// compress, rotated files are `.1.gz` … (gzipped as they are rotated out).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Rotation } from './log-config.js';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  log: Buffer;
  /** RFC 3339 with nanoseconds. */
  time: string;
  /** Unix nanoseconds, for since/until. */
  nanos: bigint;
}

let lastNanos = 0n;
function now(): { time: string; nanos: bigint } {
  // Strictly increasing, so `--since` on a line's own timestamp never repeats a line.
  let nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (nanos <= lastNanos) nanos = lastNanos + 1n;
  lastNanos = nanos;
  return { time: formatNanos(nanos), nanos };
}

export function formatNanos(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

export function parseTimeNanos(time: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return BigInt(Date.parse(time)) * 1_000_000n;
  const secs = BigInt(Date.parse(m[1]! + m[3]!)) / 1000n;
  return secs * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9) || '0');
}

export class JsonFileLog extends EventEmitter {
  private fd: number | undefined;
  private currentSize = 0;
  private rotation: Rotation = { maxSize: -1, maxFiles: 1 };

  constructor(readonly file: string) {
    super();
  }

  /** Rotation settings for the next writes (set at each start, from the container's LogConfig). */
  configure(rotation: Rotation): void {
    this.rotation = rotation;
  }

  /** Copies a process stream into the log, line by line; resolves when it ends. */
  consume(stream: 'stdout' | 'stderr', source: Readable): Promise<void> {
    let pending = Buffer.alloc(0);
    return new Promise((resolve) => {
      source.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        let nl: number;
        while ((nl = pending.indexOf(10)) >= 0) {
          this.write(stream, pending.subarray(0, nl + 1));
          pending = pending.subarray(nl + 1);
        }
        if (pending.length > 16 * 1024) {
          this.write(stream, pending);
          pending = Buffer.alloc(0);
        }
      });
      const done = () => {
        if (pending.length > 0) this.write(stream, pending);
        pending = Buffer.alloc(0);
        resolve();
      };
      source.on('end', done);
      source.on('error', done);
    });
  }

  write(stream: 'stdout' | 'stderr', log: Buffer): void {
    const { time, nanos } = now();
    const line = JSON.stringify({ log: log.toString('utf8'), stream, time }) + '\n';
    if (this.rotation.keep !== false)
      try {
        if (this.fd === undefined) {
          this.fd = fs.openSync(this.file, 'a', 0o640);
          this.currentSize = fs.fstatSync(this.fd).size;
        }
        this.rotateIfFull();
        this.currentSize += fs.writeSync(this.fd, line);
      } catch {
        /* the container is being removed */
      }
    this.emit('entry', { stream, log, time, nanos } satisfies LogEntry);
  }

  private rotateIfFull(): void {
    const { maxSize, maxFiles, compress } = this.rotation;
    if (maxSize < 0 || this.currentSize < maxSize) return;
    fs.closeSync(this.fd!);
    this.fd = undefined;
    if (maxFiles >= 2) {
      const ext = compress ? '.gz' : '';
      for (let i = maxFiles - 1; i > 1; i--) renameIfExists(`${this.file}.${i - 1}${ext}`, `${this.file}.${i}${ext}`);
      renameIfExists(this.file, `${this.file}.1`);
      if (compress) {
        // Synchronous, so a reader never sees the entries twice (.1 and .1.gz) or not at all.
        fs.writeFileSync(`${this.file}.1.gz`, zlib.gzipSync(fs.readFileSync(`${this.file}.1`)), { mode: 0o640 });
        fs.rmSync(`${this.file}.1`);
      }
    }
    this.fd = fs.openSync(
      this.file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND,
      0o640,
    );
    this.currentSize = 0;
  }

  /** Every entry on disk, oldest first: rotated files (highest number first), then the current one. */
  readAll(): LogEntry[] {
    return logFilesOf(this.file).flatMap((f) => readLogFile(f));
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  size(): number {
    try {
      return fs.statSync(this.file).size;
    } catch {
      return 0;
    }
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The log's files in reading order: `<file>.N[.gz]` … `<file>.1[.gz]`, then `<file>`. */
export function logFilesOf(file: string): string[] {
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(file));
  } catch {
    return [];
  }
  const rotated = names
    .map((n) => (n.startsWith(base + '.') ? /^(\d+)(\.gz)?$/.exec(n.slice(base.length + 1)) : null))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((m) => `${file}.${m[0]}`);
  return [...rotated, file];
}

/** Entries of a log file up to `limit` bytes. */
export function readLogFile(file: string, limit = Infinity): LogEntry[] {
  let text: string;
  try {
    const raw = fs.readFileSync(file);
    const buf = file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw;
    text = buf.subarray(0, Math.min(buf.length, limit)).toString('utf8');
  } catch {
    return [];
  }
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const rec = JSON.parse(line) as { log: string; stream: 'stdout' | 'stderr'; time: string };
      out.push({
        stream: rec.stream,
        log: Buffer.from(rec.log, 'utf8'),
        time: rec.time,
        nanos: parseTimeNanos(rec.time),
      });
    } catch {
      /* a torn last line after a crash */
    }
  }
  return out;
}
