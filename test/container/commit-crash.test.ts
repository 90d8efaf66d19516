// docker commit and a daemon killed around it: an acknowledged commit survives a SIGKILL right
// after its answer (listed, its layer's files intact in a container from it, its stored layer tar
// matching its diffID), and a SIGKILL while the commit is still running leaves no image, no
// layer snapshot, no blob and no ingest behind once the daemon has restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { startDaemon, ok, exited, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

const FILES = 2000;

/** The script a container runs: FILES files of different sizes and contents under /d. */
const WRITER = `mkdir /d && i=0; while [ $i -lt ${FILES} ]; do s="line-$i-abcdefghijklmnopqrstuvwxyz"; k=0; while [ $k -lt $((i % 7)) ]; do s="$s$s"; k=$((k+1)); done; echo "$s" > /d/f$i; i=$((i+1)); done`;

/** What WRITER leaves in file i. */
function content(i: number): string {
  let s = `line-${i}-abcdefghijklmnopqrstuvwxyz`;
  for (let k = 0; k < i % 7; k++) s += s;
  return s + '\n';
}

/** POST /commit; `onAnswer` runs the moment the status line is in, before the body is read. */
function commit(d: TestDaemon, container: string, repo: string, onAnswer: (status: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: d.socket, method: 'POST', path: `/v1.41/commit?container=${container}&repo=${repo}&tag=latest` },
      (res) => {
        onAnswer(res.statusCode ?? 0);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', () => resolve(''));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function listing(dataRoot: string): { blobs: string[]; records: string[]; ingests: string[]; snapshots: string[] } {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);
  const driver = ls(path.join(dataRoot, 'snapshots'))[0] ?? '';
  return {
    blobs: ls(path.join(dataRoot, 'content/blobs/sha256')),
    records: ls(path.join(dataRoot, 'content/tar-split')),
    ingests: ls(path.join(dataRoot, 'content/ingest')),
    snapshots: ls(path.join(dataRoot, 'snapshots', driver)).filter((n) => /^\d+$/.test(n)),
  };
}

async function kill(d: TestDaemon): Promise<void> {
  d.expectExit();
  d.proc.kill('SIGKILL');
  await exited(d.proc);
}

/**
 * A daemon with container `writer` exited after WRITER; `restart` starts another daemon on its
 * data-root. Every daemon is stopped at the end, the last started first.
 */
async function withWriter(fn: (first: TestDaemon, restart: () => Promise<TestDaemon>) => Promise<void>): Promise<void> {
  const first = await startDaemon();
  const started = [first];
  const restart = async () => {
    const d = await startDaemon(['--data-root', first.dataRoot]);
    started.push(d);
    return d;
  };
  try {
    fs.writeFileSync(path.join(first.dir, 'bb.tar'), await busyboxArchive('bb:crash'));
    ok(first.docker(['load', '-i', path.join(first.dir, 'bb.tar')]), 'load');
    ok(first.docker(['run', '--name', 'writer', '--network', 'none', 'bb:crash', 'sh', '-c', WRITER]), 'run');
    await fn(first, restart);
  } finally {
    for (const d of started.reverse()) await d.stop();
  }
}

test('a commit acknowledged just before a SIGKILL is intact after the restart', async () => {
  await withWriter(async (first, restart) => {
    const parent = JSON.parse(ok(first.docker(['image', 'inspect', 'bb:crash']), 'inspect'))[0];
    let acked = 0;
    const body = commit(first, 'writer', 'crashed', (status) => {
      acked = status;
      if (status === 201) first.proc.kill('SIGKILL');
    });
    first.expectExit();
    const answer = await body;
    await exited(first.proc);
    assert.equal(acked, 201, answer);
    const id = (JSON.parse(answer) as { Id: string }).Id;

    const second = await restart();
    assert.equal(ok(second.docker(['images', '-q', '--no-trunc', 'crashed']), 'images').trim(), id);
    const img = JSON.parse(ok(second.docker(['image', 'inspect', 'crashed:latest']), 'inspect'))[0];
    assert.equal(img.Id, id);
    assert.equal(img.Parent, parent.Id);
    assert.deepEqual(img.RootFS.Layers.slice(0, -1), parent.RootFS.Layers);
    assert.equal(img.RootFS.Layers.length, parent.RootFS.Layers.length + 1);
    let bytes = 0;
    for (let i = 0; i < FILES; i++) bytes += Buffer.byteLength(content(i));
    assert.equal(img.Size, parent.Size + bytes);

    // The files read back in a container from the image, every byte.
    const read = `i=0; while [ $i -lt ${FILES} ]; do cat /d/f$i; i=$((i+1)); done`;
    const r = spawnSync('docker', ['run', '--rm', '--network', 'none', 'crashed', 'sh', '-c', read], {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: second.host },
      maxBuffer: 64 << 20,
    });
    const out = ok(
      { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error) },
      'read back',
    );
    let want = '';
    for (let i = 0; i < FILES; i++) want += content(i);
    assert.equal(out.length, want.length);
    assert.ok(out === want, 'the committed files read back with their contents');

    // The stored layer tar is the one the image's config names.
    const saved = path.join(second.dir, 'saved.tar');
    ok(second.docker(['save', '-o', saved, 'crashed:latest']), 'save');
    const x = path.join(second.dir, 'x');
    fs.mkdirSync(x);
    assert.equal(spawnSync('tar', ['-xf', saved, '-C', x]).status, 0);
    const manifest = JSON.parse(fs.readFileSync(path.join(x, 'manifest.json'), 'utf8'))[0];
    const top = fs.readFileSync(path.join(x, manifest.Layers.at(-1)));
    assert.equal('sha256:' + createHash('sha256').update(top).digest('hex'), img.RootFS.Layers.at(-1));

    // And a clean restart agrees with what the first one found.
    await second.stop();
    const third = await restart();
    const again = JSON.parse(ok(third.docker(['image', 'inspect', 'crashed:latest']), 'inspect'))[0];
    assert.deepEqual({ ...again, Metadata: undefined }, { ...img, Metadata: undefined });
  });
});

test('a SIGKILL during a commit leaves no image, layer snapshot, blob or ingest after the restart', async () => {
  await withWriter(async (first, restart) => {
    const before = listing(first.dataRoot);
    const images = ok(first.docker(['images', '-aq', '--no-trunc']), 'images');
    let answered = 0;
    const body = commit(first, 'writer', 'half', (status) => (answered = status)).catch(() => '');
    // Killed once the layer's tar is streaming into its ingest, so the new snapshot is half made.
    const ingest = path.join(first.dataRoot, 'content/ingest');
    let streaming = false;
    for (let i = 0; i < 2000 && !streaming && answered === 0; i++) {
      for (const e of fs.existsSync(ingest) ? fs.readdirSync(ingest) : []) {
        try {
          if (fs.statSync(path.join(ingest, e, 'data')).size > 0) streaming = true;
        } catch {
          /* not yet there, or already gone */
        }
      }
      if (!streaming) await new Promise((r) => setTimeout(r, 5));
    }
    await kill(first);
    await body;
    assert.ok(streaming, 'the kill came while the commit was streaming');
    assert.equal(answered, 0, 'the commit was never acknowledged');
    assert.notDeepEqual(listing(first.dataRoot), before, 'the kill left a half-made commit on disk');

    const second = await restart();
    assert.equal(ok(second.docker(['images', '-aq', '--no-trunc']), 'images'), images);
    assert.deepEqual(listing(first.dataRoot), before);
    // The container is still there and can be committed now.
    assert.equal(ok(second.docker(['ps', '-aq', '--filter', 'name=writer']), 'ps').trim().length > 0, true);
    ok(second.docker(['commit', 'writer', 'whole']), 'commit after the restart');
  });
});
