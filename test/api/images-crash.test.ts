// A big layer streams through the daemon without being held in memory, and a SIGKILL in the
// middle of `docker load` leaves nothing behind that a restart does not clean up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sha256 } from '../image/fixture-archive.js';
import { createHash } from 'node:crypto';

// STRATA_BIG_LAYER_MIB raises the size for a manual check (e.g. 1024); the default keeps the suite quick.
const BIG = Number(process.env.STRATA_BIG_LAYER_MIB ?? 320) * 1024 * 1024;

/** Writes a docker-archive with one layer holding one BIG-byte file, streaming (never in memory). */
async function writeBigArchive(file: string): Promise<void> {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  // The layer tar: one header, BIG bytes (a multiple of 512), two zero blocks.
  const header = tarStream.pack();
  const hdr: Buffer[] = [];
  const done = (async () => {
    for await (const c of header) hdr.push(c as Buffer);
  })();
  header.entry({ name: 'big', size: 0, mtime: new Date(0) }, Buffer.alloc(0));
  header.finalize();
  await done;
  const h = Buffer.from(hdr[0]!.subarray(0, 512));
  h.write(BIG.toString(8).padStart(11, '0') + '\0', 124, 12, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  const trailer = Buffer.alloc(1024);
  const layerSize = 512 + BIG + 1024;
  const digest = createHash('sha256');
  digest.update(h);
  for (let i = 0; i < BIG / chunk.length; i++) digest.update(chunk);
  digest.update(trailer);
  const diffID = 'sha256:' + digest.digest('hex');
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      created: '2026-01-01T00:00:00Z',
      history: [{ created: '2026-01-01T00:00:00Z', created_by: 'big' }],
      rootfs: { type: 'layers', diff_ids: [diffID] },
    }),
  );
  const pack = tarStream.pack();
  const out = pipeline(pack, fs.createWriteStream(file));
  await new Promise<void>((resolve, reject) => {
    const e = pack.entry({ name: 'big/layer.tar', size: layerSize, mtime: new Date(0) }, (err) =>
      err ? reject(err) : resolve(),
    );
    pipeline(
      Readable.from(
        (function* () {
          yield h;
          for (let i = 0; i < BIG / chunk.length; i++) yield chunk;
          yield trailer;
        })(),
      ),
      e,
    ).catch(reject);
  });
  const id = sha256(config);
  pack.entry({ name: `${id.slice(7)}.json`, mtime: new Date(0) }, config);
  pack.entry(
    { name: 'manifest.json', mtime: new Date(0) },
    JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: ['big:1'], Layers: ['big/layer.tar'] }]),
  );
  pack.finalize();
  await out;
}

/** Resolves once `p` has exited, including when it already had. */
function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => p.once('exit', () => r()));
}

function peakRssKiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** The size of the largest regular file under `dirs` (0 if none). */
function largestFile(dirs: string[]): number {
  let max = 0;
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir, { recursive: true }) as string[];
    } catch {
      continue; // not made yet
    }
    for (const n of names) {
      try {
        const st = fs.lstatSync(path.join(dir, n));
        if (st.isFile() && st.size > max) max = st.size;
      } catch {
        // gone meanwhile
      }
    }
  }
  return max;
}

function leftovers(dataRoot: string): { blobs: string[]; records: string[]; ingests: string[]; snapshots: string[] } {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p) : []);
  const driver = ls(path.join(dataRoot, 'snapshots'))[0] ?? '';
  return {
    blobs: ls(path.join(dataRoot, 'content/blobs/sha256')),
    records: ls(path.join(dataRoot, 'content/tar-split')),
    ingests: ls(path.join(dataRoot, 'content/ingest')),
    snapshots: ls(path.join(dataRoot, 'snapshots', driver)).filter((n) => /^\d+$/.test(n)),
  };
}

test('a big layer (320 MiB, STRATA_BIG_LAYER_MIB to change) loads in bounded memory; SIGKILL mid-load leaves nothing; the next load works', async (t) => {
  const first = await startDaemon();
  let second: TestDaemon | undefined;
  try {
    const file = path.join(first.dir, 'big.tar');
    await writeBigArchive(file);

    // Killed while the layer is streaming in.
    const load = spawn('docker', ['load', '-i', file], {
      env: { ...process.env, DOCKER_HOST: first.host },
      stdio: 'ignore',
    });
    // Its bytes land in a staged copy, or (where the layer is extracted as it arrives, though
    // its config comes after it) straight in the file of a snapshot being extracted.
    let streamed = 0;
    for (let i = 0; i < 600 && streamed <= 32 << 20; i++) {
      streamed = largestFile([path.join(first.dataRoot, 'content/ingest'), path.join(first.dataRoot, 'snapshots')]);
      if (streamed <= 32 << 20) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(streamed > 32 << 20, 'the layer was streaming in when the daemon was killed');
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    await exited(load);

    second = await startDaemon(['--data-root', first.dataRoot]);
    assert.equal(second.docker(['images', '-aq']).stdout, '');
    assert.deepEqual(leftovers(first.dataRoot), { blobs: [], records: [], ingests: [], snapshots: [] });

    const r = second.docker(['load', '-i', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Loaded image: big:1\n');
    assert.equal(second.docker(['image', 'inspect', '-f', '{{.Size}}', 'big:1']).stdout, `${BIG}\n`);
    const peak = peakRssKiB(second.proc.pid!);
    t.diagnostic(`daemon peak RSS while loading: ${peak} KiB`);
    assert.ok(peak > 0 && peak < 300 * 1024, `daemon peak RSS ${peak} KiB`);
    // Kept once, as its files plus a tar-split record, or (where no record can rebuild it) as its tar.
    const kept = leftovers(first.dataRoot);
    assert.equal(kept.blobs.length + kept.records.length, 1, 'the layer is kept once');
  } finally {
    if (second) await second.stop();
    await first.stop();
  }
});
