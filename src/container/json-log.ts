// The json-file driver's format: <data-root>/containers/<id>/<id>-json.log, one JSON object per
// line {"log","stream","time"} exactly as Docker writes it, so tools that read Docker's files
// read ours. A partial piece is written without its "\n", so the pieces read back as one line.
import { formatNanos, parseTimeNanos, type LogEntry, type LogFormat } from './log-entry.js';

export const jsonFileFormat: LogFormat = {
  encode(e: LogEntry): Buffer {
    return Buffer.from(
      JSON.stringify({ log: e.log.toString('utf8'), stream: e.stream, time: formatNanos(e.nanos) }) + '\n',
    );
  },

  decode(buf: Buffer): LogEntry[] {
    const out: LogEntry[] = [];
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const rec = JSON.parse(line) as { log: string; stream: 'stdout' | 'stderr'; time: string };
        out.push({ stream: rec.stream, log: Buffer.from(rec.log, 'utf8'), nanos: parseTimeNanos(rec.time) });
      } catch {
        /* a torn last line after a crash */
      }
    }
    return out;
  },
};
