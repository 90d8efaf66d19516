// Shared test helpers: tars built header by header, temp dirs, tree snapshots.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from '../../src/archive/tarstream.js';

export interface Spec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** A tar built entry by entry with tar-stream's packer (names are written verbatim). */
export async function makeTar(specs: Spec[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const s of specs) {
    const type = s.type ?? 'file';
    const body = type === 'file' ? Buffer.from(s.content ?? '') : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) =>
      p.entry(
        {
          name: s.name,
          type,
          mode: s.mode ?? (type === 'directory' ? 0o755 : 0o644),
          uid: s.uid ?? 0,
          gid: s.gid ?? 0,
          mtime: s.mtime ?? new Date(1_600_000_000_000),
          linkname: s.linkname,
          devmajor: s.devmajor,
          devminor: s.devminor,
          pax: s.pax,
          size: body.length,
        } as never,
        body,
        (err?: Error | null) => (err ? reject(err) : resolve()),
      ),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function readable(buf: Buffer): Readable {
  return Readable.from([buf]);
}

export function tempDir(prefix = 'strata-archive-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A comparable picture of a tree: type, mode, owner, size, content digest or link target. */
export function snapshotTree(dir: string, opts: { seconds?: boolean } = {}): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      let extra = '';
      if (st.isSymbolicLink()) extra = `-> ${readlinkSync(p)}`;
      else if (st.isFile()) extra = readFileSync(p).toString('base64').slice(0, 64);
      out.push(
        `${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '-' : st.size} ${opts.seconds ? Math.floor(st.mtimeMs / 1000) : st.mtimeMs} ${extra}`,
      );
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
