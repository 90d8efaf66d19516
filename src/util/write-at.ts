// Writing a whole buffer at a file position: write(2) may write less than asked (a signal, a
// full disk's last blocks), and Node's fs.write reports that instead of trying again.
import fs from 'node:fs';

/** Writes all of `buf` to `fd` from byte `pos`, resuming after each short write. */
export async function writeAllAt(fd: number, buf: Buffer, pos: number): Promise<void> {
  for (let off = 0; off < buf.length;) {
    off += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, off, buf.length - off, pos + off, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}
