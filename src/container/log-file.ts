// A container's log on disk, whatever its driver's format: the current file plus rotated ones,
// written entry by entry from the process's streams, and read back for `docker logs`.
//
// Rotation as Docker's loggerutils.LogFile: before an entry is written, a file that has reached
// max-size is renamed to .1 (older ones shifted to .2 … up to max-file - 1, the oldest dropped),
// or truncated when max-file is below 2; so a file may exceed max-size by at most one entry. With
// compress, rotated files are `.1.gz` …, gzipped as they are rotated out, with the time of their
// last entry in the gzip header as Docker records it.
//
// Output is cut into entries at "\n"; a piece longer than the copy buffer is written as partial
// entries sharing one id and the first piece's time, the piece that ends the line marked last
// (Docker's copier), so a driver that frames entries can put the line back together.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Rotation } from './log-config.js';
import { formatNanos, type LogEntry, type LogFormat } from './log-entry.js';

let lastNanos = 0n;
function now(): bigint {
  // Strictly increasing, so `--since` on a line's own timestamp never repeats a line.
  let nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (nanos <= lastNanos) nanos = lastNanos + 1n;
  lastNanos = nanos;
  return nanos;
}

/** Docker's copier reads up to this much of a line before it logs a partial entry. */
const COPY_BUFFER = 16 * 1024;

interface PartialRun {
  id: string;
  ordinal: number;
  nanos: bigint;
}

export interface LogTarget {
  file: string;
  format: LogFormat;
}

export class ContainerLog extends EventEmitter {
  private fd: number | undefined;
  private currentSize = 0;
  private rotation: Rotation = { maxSize: -1, maxFiles: 1 };
  private lastWritten = 0n;
  private readonly partial: Partial<Record<'stdout' | 'stderr', PartialRun>> = {};

  constructor(private target: LogTarget) {
    super();
  }

  get file(): string {
    return this.target.file;
  }

  /** The driver's file and format (a container's driver is fixed at create, but the log object outlives none of that). */
  use(target: LogTarget): void {
    if (target.file === this.target.file) return;
    this.close();
    this.target = target;
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
        // A line is looked for within one buffer's worth, as Docker's copier reads, so how the
        // pipe happened to chunk the output does not change where a long line is cut.
        for (;;) {
          const nl = pending.subarray(0, COPY_BUFFER).indexOf(10);
          const cut = nl >= 0 ? nl + 1 : pending.length >= COPY_BUFFER ? COPY_BUFFER : 0;
          if (!cut) break;
          this.write(stream, pending.subarray(0, cut));
          pending = pending.subarray(cut);
        }
      });
      const done = () => {
        if (pending.length > 0) this.write(stream, pending);
        pending = Buffer.alloc(0);
        delete this.partial[stream];
        resolve();
      };
      source.on('end', done);
      source.on('error', done);
    });
  }

  /** Logs one piece of output: a whole line (ending in "\n") or part of one. */
  write(stream: 'stdout' | 'stderr', log: Buffer): void {
    const entry: LogEntry = { stream, log, nanos: 0n };
    const run = this.partial[stream];
    if (log.at(-1) !== 10) {
      const r = run ?? { id: crypto.randomBytes(32).toString('hex'), ordinal: 1, nanos: now() };
      this.partial[stream] = r;
      entry.nanos = r.nanos;
      entry.partial = { id: r.id, ordinal: r.ordinal++, last: false };
    } else if (run) {
      entry.nanos = run.nanos;
      entry.partial = { id: run.id, ordinal: run.ordinal, last: true };
      delete this.partial[stream];
    } else {
      entry.nanos = now();
    }
    if (this.rotation.keep !== false)
      try {
        if (this.fd === undefined) {
          fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
          this.fd = fs.openSync(this.file, 'a', 0o640);
          this.currentSize = fs.fstatSync(this.fd).size;
        }
        this.rotateIfFull();
        this.currentSize += fs.writeSync(this.fd, this.target.format.encode(entry));
        this.lastWritten = entry.nanos;
      } catch {
        /* the container is being removed */
      }
    this.emit('entry', entry);
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
        const gz = gzipWithLastTime(fs.readFileSync(`${this.file}.1`), this.lastWritten);
        fs.writeFileSync(`${this.file}.1.gz`, gz, { mode: 0o640 });
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
    return logFilesOf(this.file).flatMap((f) => readLogFile(f, this.target.format));
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

/**
 * gzip as Docker's rotation writes it: the FEXTRA field holds `{"lastTime":"<RFC 3339>"}`, the
 * time of the file's last entry, which lets a `--since` reader skip the whole file. Node's
 * gzip cannot write header fields, so the member is framed here around a raw deflate stream.
 */
export function gzipWithLastTime(data: Buffer, lastNanos: bigint): Buffer {
  const extra = Buffer.from(JSON.stringify({ lastTime: goTime(lastNanos) }));
  const head = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, extra.length & 0xff, extra.length >> 8]);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(zlib.crc32(data), 0);
  tail.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([head, extra, zlib.deflateRawSync(data), tail]);
}

/** Go's time.RFC3339Nano: trailing zeros of the fraction dropped, and the dot with them. */
function goTime(nanos: bigint): string {
  return formatNanos(nanos).replace(/\.?0+Z$/, 'Z');
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

/** The entries of one log file (gunzipped when rotated out compressed). */
export function readLogFile(file: string, format: LogFormat): LogEntry[] {
  let buf: Buffer;
  try {
    const raw = fs.readFileSync(file);
    buf = file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw;
  } catch {
    return [];
  }
  return format.decode(buf);
}
