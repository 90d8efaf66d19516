// The local driver's format, byte for byte Docker's (daemon/logger/local), so Docker's reader and
// ours read each other's files: each entry is a protobuf `LogEntry` framed by its length as a
// big-endian uint32 before and after (the trailing copy lets a reader walk the file backwards).
//
//   message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3; bool partial = 4;
//                      PartialLogEntryMetadata partial_log_metadata = 5; }
//   message PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3; }
//
// The line is kept without its "\n" (a reader puts it back on every whole line). The message is
// five fields of three wire types, so the varint and length framing are written here by hand
// rather than pulling in a protobuf library and a schema compiler for it.
import type { LogEntry, LogFormat } from './log-entry.js';

const LEN = 2;
const VARINT = 0;

function varint(n: bigint): number[] {
  // int64 in proto3: a negative value is its two's complement, ten bytes long.
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return out;
}

const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const bytesField = (field: number, b: Buffer): Buffer[] =>
  b.length ? [Buffer.from([...tag(field, LEN), ...varint(BigInt(b.length))]), b] : [];
const varintField = (field: number, v: bigint): Buffer[] =>
  v ? [Buffer.from([...tag(field, VARINT), ...varint(v)])] : [];

function encodeMessage(e: LogEntry): Buffer {
  const complete = e.log.at(-1) === 10;
  const parts = [
    ...bytesField(1, Buffer.from(e.stream)),
    ...varintField(2, e.nanos),
    ...bytesField(3, complete ? e.log.subarray(0, -1) : e.log),
  ];
  if (e.partial) {
    const md = Buffer.concat([
      ...varintField(1, e.partial.last ? 1n : 0n),
      ...bytesField(2, Buffer.from(e.partial.id)),
      ...varintField(3, BigInt(e.partial.ordinal)),
    ]);
    parts.push(...varintField(4, 1n), Buffer.from([...tag(5, LEN), ...varint(BigInt(md.length))]), md);
  }
  return Buffer.concat(parts);
}

/** Reads a message's fields: varints as bigints, length-delimited ones as buffers; others skipped. */
function fields(buf: Buffer): Map<number, bigint | Buffer> {
  const out = new Map<number, bigint | Buffer>();
  let pos = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length) throw new RangeError('truncated varint');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >> 3;
    switch (key & 7) {
      case 0:
        out.set(field, readVarint());
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const n = Number(readVarint());
        if (pos + n > buf.length) throw new RangeError('truncated field');
        out.set(field, buf.subarray(pos, pos + n));
        pos += n;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new RangeError(`wire type ${key & 7}`);
    }
  }
  return out;
}

function decodeMessage(buf: Buffer): LogEntry {
  const f = fields(buf);
  const str = (v: bigint | Buffer | undefined) => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));
  const num = (v: bigint | Buffer | undefined) => (typeof v === 'bigint' ? v : 0n);
  const line = str(f.get(3));
  const entry: LogEntry = {
    stream: str(f.get(1)).toString() === 'stderr' ? 'stderr' : 'stdout',
    nanos: BigInt.asIntN(64, num(f.get(2))),
    log: line,
  };
  if (num(f.get(4))) {
    const md = fields(str(f.get(5)));
    entry.partial = {
      last: num(md.get(1)) !== 0n,
      id: str(md.get(2)).toString(),
      ordinal: Number(BigInt.asIntN(32, num(md.get(3)))),
    };
  }
  // Whole lines get their "\n" back; so does the last piece of a long line, which dockerd
  // 20.10's reader forgets (its `docker logs` runs such a line into the next one).
  if (!entry.partial || entry.partial.last) entry.log = Buffer.concat([line, Buffer.from('\n')]);
  return entry;
}

export const localFormat: LogFormat = {
  encode(e: LogEntry): Buffer {
    const msg = encodeMessage(e);
    const frame = Buffer.alloc(msg.length + 8);
    frame.writeUInt32BE(msg.length, 0);
    msg.copy(frame, 4);
    frame.writeUInt32BE(msg.length, msg.length + 4);
    return frame;
  },

  decode(buf: Buffer): LogEntry[] {
    const out: LogEntry[] = [];
    let pos = 0;
    while (pos + 8 <= buf.length) {
      const n = buf.readUInt32BE(pos);
      if (pos + 8 + n > buf.length || buf.readUInt32BE(pos + 4 + n) !== n) break;
      try {
        out.push(decodeMessage(buf.subarray(pos + 4, pos + 4 + n)));
      } catch {
        break;
      }
      pos += 8 + n;
    }
    return out;
  },
};
