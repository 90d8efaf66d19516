// Tar blocks written byte by byte, for tests that need entries no packer writes (a PAX or long
// name entry of size 0, a directory that carries data). It imports nothing of the archive
// room, so a test can tell whether the code under test loads that room's tar reader itself.

/** A header block's checksum field, as tar computes it (the field itself counted as spaces). */
export function headerChecksum(b: Buffer): string {
  let sum = 8 * 0x20;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += b[i]!;
  return sum.toString(8).padStart(6, '0') + '\0 ';
}

/** One ustar header block (mode 0644, owner 0:0), its checksum filled in. */
export function ustarHeader(name: string, type: string, size: number, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'latin1');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('13526523000\0', 136, 'latin1');
  b.write(type, 156, 'latin1');
  b.write(linkname, 157, 100, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  b.write(headerChecksum(b), 148, 'latin1');
  return b;
}

/** A regular file entry: header, data, padding to the block. */
export function ustarFile(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([ustarHeader(name, '0', data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}
