// The tar of a tree of many small files comes in a few large chunks (headers and small files
// packed together), with every entry's bytes the file's, whatever its size relative to the
// slab and to the small-file limit.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packTree } from '../../src/archive/index.js';
import { extract } from '../../src/archive/tarstream.js';
import { tempDir } from './helpers.js';

/** Every regular file's content in the tar, by name. */
async function contents(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    const parts: Buffer[] = [];
    s.on('data', (c: unknown) => parts.push(c as Buffer));
    s.on('end', () => {
      if (h.type === 'file') out.set(h.name, Buffer.concat(parts));
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    ex.end(buf);
  });
  return out;
}

test('packTree: many small files in few chunks, every file byte for byte', async () => {
  const t = tempDir();
  try {
    const src = join(t.path, 'src');
    mkdirSync(join(src, 'many'), { recursive: true });
    mkdirSync(join(src, 'edges'));
    const want = new Map<string, Buffer>();
    const put = (name: string, data: Buffer) => {
      writeFileSync(join(src, name), data);
      want.set(name, data);
    };
    for (let i = 0; i < 2000; i++) put(`many/f${i}`, Buffer.alloc(100 + ((i * 37) % 3000), `${i}:`));
    // Around the tar block, the small-file limit (64 KiB with padding) and the 1 MiB slab.
    for (const size of [0, 1, 511, 512, 513, 65024, 65535, 65536, 65537, (1 << 20) - 512, 1 << 20, (1 << 20) + 1])
      put(`edges/s${size}`, Buffer.alloc(size, `${size}-`));
    const chunks: Buffer[] = [];
    for await (const c of packTree(src)) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    assert.ok(chunks.length < 100, `${chunks.length} chunks for ${want.size} files`);
    const got = await contents(tar);
    assert.equal(got.size, want.size);
    for (const [name, data] of want) assert.ok(got.get(name)?.equals(data), `${name} differs`);
    assert.equal(tar.length % 512, 0);
    assert.ok(tar.subarray(-1024).equals(Buffer.alloc(1024)), 'ends with two zero blocks');
  } finally {
    t.cleanup();
  }
});
