// Docker's stdcopy framing for non-TTY streams (attach, exec, logs): an 8-byte header
// [stream, 0, 0, 0, size as big-endian uint32] before each chunk; 0 stdin, 1 stdout, 2 stderr.
export type StreamName = 'stdin' | 'stdout' | 'stderr';

const STREAM_ID: Record<StreamName, number> = { stdin: 0, stdout: 1, stderr: 2 };

export function frame(stream: StreamName, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_ID[stream];
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}
