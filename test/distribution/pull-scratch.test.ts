// A pull writes no scratch file when its layers arrive faster than they unpack: each layer is
// applied from its own connection, the ones waiting for their turn paused by backpressure. The
// scratch directory is watched through inotify for the whole pull. Behind a registry slower than
// unpacking (a proxy that trickles every blob out), the layers waiting for their turn are
// fetched ahead into scratch files, and the image still pulls byte for byte with none left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startDaemon } from '../helpers/daemon.js';
import { errorOf, pullImage, startRegistry } from './registry.js';
import { assertSaved, bigLayers, pushRaw, startTrickleProxy } from './trickle.js';

/**
 * The names created in `dir` while `run` runs. A marker file made after it is the last event
 * read: inotify keeps its events in order, so every earlier one has been seen by then.
 */
async function createdIn(dir: string, run: () => Promise<void>): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const seen: string[] = [];
  const marker = `.marker-${randomBytes(4).toString('hex')}`;
  let markerSeen!: () => void;
  const done = new Promise<void>((resolve) => (markerSeen = resolve));
  const watcher = fs.watch(dir, (event, name) => {
    if (name === marker) markerSeen();
    else if (event === 'rename' && name) seen.push(name);
  });
  try {
    await run();
    fs.writeFileSync(path.join(dir, marker), '');
    await done;
  } finally {
    watcher.close();
    fs.rmSync(path.join(dir, marker), { force: true });
  }
  return seen;
}

test('a pull from a registry faster than unpacking writes no scratch file', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/fast', 'v1', tars);
    const scratch = path.join(d.dataRoot, 'tmp', 'pull');
    const created = await createdIn(scratch, async () => {
      const r = await pullImage(d.socket, `${reg.addr}/team/fast`, { tag: 'v1' });
      assert.equal(errorOf(r), undefined, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, tars.length, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Download complete').length, tars.length, r.text);
    });
    assert.deepEqual(created, [], 'scratch files written by the pull');
    const ref = `${reg.addr}/team/fast:v1`;
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), id);
    assertSaved(d, ref, tars);
  } finally {
    await reg.stop();
    await d.stop();
  }
});

test('a pull from a registry slower than unpacking fetches waiting layers ahead and leaves no scratch file', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const proxy = await startTrickleProxy(reg.addr, 40);
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/slow', 'v1', tars);
    const scratch = path.join(d.dataRoot, 'tmp', 'pull');
    const created = await createdIn(scratch, async () => {
      const r = await pullImage(d.socket, `${proxy.addr}/team/slow`, { tag: 'v1' });
      assert.equal(errorOf(r), undefined, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, tars.length, r.text);
    });
    // The unpacking threads waited on their connections: the layers behind them went to files.
    assert.ok(created.length > 0, 'no scratch file behind a slow registry');
    assert.deepEqual(fs.readdirSync(scratch), [], 'scratch files left behind');
    const ref = `${proxy.addr}/team/slow:v1`;
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), id);
    assertSaved(d, ref, tars);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});
