// A pull whose client goes away is called off, as dockerd cancels a pull with its request's
// context: the daemon stops fetching (the proxy in front of the registry sees its blob
// connections cut), leaves no scratch file, snapshot or row of it, and a later pull of the same
// image works. A layer download that another client's pull of the same image waits on goes on
// for that pull, which completes. One called off while another pull holds the image lock ends
// without waiting for that lock. A push whose client goes away stops uploading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { makeTar } from '../archive/helpers.js';
import { errorOf, pullImage, pushImage, startRegistry } from './registry.js';
import {
  assertSaved,
  bigLayers,
  pushRaw,
  startSlowUploadProxy,
  startTrickleProxy,
  type TrickleProxy,
} from './trickle.js';

type Message = Record<string, any>;

/** A pull over the daemon's socket whose client hangs up at the first message `cutAt` picks. */
function pullCutOff(d: TestDaemon, ref: string, tag: string, cutAt: (m: Message) => boolean): Promise<Message[]> {
  return cutOff(d, pullPath(ref, tag), cutAt);
}

/**
 * A streamed POST over the daemon's socket, each message shown to `watch` as it comes: the
 * client hangs up at the first one `watch` answers true to. Resolves with the messages then, or
 * at the end of the answer.
 */
function streamedCall(
  d: TestDaemon,
  urlPath: string,
  watch: (m: Message) => boolean,
): Promise<{ messages: Message[]; cut: boolean }> {
  return new Promise((resolve) => {
    const messages: Message[] = [];
    const headers = { 'X-Registry-Auth': Buffer.from('{}').toString('base64url') };
    const req = http.request({ socketPath: d.socket, method: 'POST', path: urlPath, headers }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        const lines = buf.split(/\r?\n/);
        buf = lines.pop()!;
        for (const l of lines.filter(Boolean)) {
          const m = JSON.parse(l) as Message;
          messages.push(m);
          if (watch(m)) {
            req.destroy();
            resolve({ messages, cut: true });
            return;
          }
        }
      });
      res.on('end', () => resolve({ messages, cut: false }));
      res.on('error', () => {});
    });
    req.on('error', () => {});
    req.end();
  });
}

/** streamedCall that must be cut off: its messages up to the cut. */
async function cutOff(d: TestDaemon, urlPath: string, cutAt: (m: Message) => boolean): Promise<Message[]> {
  const r = await streamedCall(d, urlPath, cutAt);
  if (!r.cut)
    assert.fail(`the call ended before it was cut off:\n${r.messages.map((m) => JSON.stringify(m)).join('\n')}`);
  return r.messages;
}

const pullPath = (ref: string, tag: string) => `/images/create?${new URLSearchParams({ fromImage: ref, tag })}`;

/** Some MiB of a layer have arrived: downloads are under way, none complete. */
const downloading = (m: Message) => m.status === 'Downloading' && (m.progressDetail?.current ?? 0) >= 1 << 20;

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the data-root holds of images: rows, snapshots, scratch and staging files. */
function leftovers(d: TestDaemon): Record<string, unknown> {
  const db = new Database(path.join(d.dataRoot, 'strata.db'), { readonly: true });
  try {
    const count = (table: string) => (db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number) ?? 0;
    const files = (dir: string): string[] => {
      const p = path.join(d.dataRoot, dir);
      return fs.existsSync(p) ? (fs.readdirSync(p, { recursive: true }) as string[]) : [];
    };
    return {
      images: count('images'),
      layers: count('image_layers'),
      snapshots: count('snapshots'),
      incomplete: count('incomplete'),
      scratch: files('tmp/pull'),
      staging: files('tmp').filter((f) => !f.startsWith('pull')),
      blobs: files('content/blobs/sha256'),
    };
  } finally {
    db.close();
  }
}

const nothingLeft = { images: 0, layers: 0, snapshots: 0, incomplete: 0, scratch: [], staging: [], blobs: [] };

const openFetches = (p: TrickleProxy) => p.blobs.filter((b) => b.state === 'open');

test('a pull whose client goes away stops fetching and leaves nothing behind; the next pull works', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const proxy = await startTrickleProxy(reg.addr, 20);
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/cut', 'v1', tars);
    const ref = `${proxy.addr}/team/cut`;
    const seen = await pullCutOff(d, ref, 'v1', downloading);
    assert.ok(!seen.some((m) => m.status === 'Pull complete'), 'a layer was stored before the cut');
    // The daemon hangs up on the registry: every blob connection ends, some of them cut short.
    await until('the blob connections to close', () => openFetches(proxy).length === 0);
    assert.ok(
      proxy.blobs.some((b) => b.state === 'cut'),
      `no blob connection was cut: ${JSON.stringify(proxy.blobs)}`,
    );
    // And asks for nothing more.
    const fetched = proxy.blobs.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      proxy.blobs.length,
      fetched,
      `blobs fetched after the cut: ${JSON.stringify(proxy.blobs.slice(fetched))}`,
    );
    await until('the pull to be rolled back', () => {
      const l = leftovers(d);
      return l.layers === 0 && l.snapshots === 0 && (l.scratch as string[]).length === 0;
    });
    assert.deepEqual(leftovers(d), nothingLeft);
    assert.equal(d.docker(['image', 'ls', '-q']).stdout.trim(), '');

    const r = await pullImage(d.socket, ref, { tag: 'v1' });
    assert.equal(errorOf(r), undefined, r.text);
    assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, tars.length, r.text);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${ref}:v1`]).stdout.trim(), id);
    assertSaved(d, `${ref}:v1`, tars);
    assert.deepEqual(leftovers(d).scratch, []);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});

test('two clients pull the same image and one goes away: the other completes', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const proxy = await startTrickleProxy(reg.addr, 40);
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/shared', 'v1', tars);
    const ref = `${proxy.addr}/team/shared`;
    // The first claims every layer; the second, started once it has, joins its downloads (it
    // says `Pulling fs layer` once it has), and only then does the first client hang up.
    let claimed!: () => void;
    const claim = new Promise<void>((resolve) => (claimed = resolve));
    let joined = false;
    const first = cutOff(d, pullPath(ref, 'v1'), (m) => {
      if (m.status === 'Pulling fs layer') claimed();
      return joined && downloading(m);
    });
    first.catch(() => {});
    await claim;
    const second = streamedCall(d, pullPath(ref, 'v1'), (m) => {
      if (m.status === 'Pulling fs layer') joined = true;
      return false;
    });
    await first;
    const cutAt = proxy.blobs.length;
    const { messages } = await second;
    const r = { status: 200, messages, text: messages.map((m) => JSON.stringify(m)).join('\n') };
    assert.equal(errorOf(r), undefined, r.text);
    assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, tars.length, r.text);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${ref}:v1`]).stdout.trim(), id);
    assertSaved(d, `${ref}:v1`, tars);
    // The downloads the first pull had not begun to apply went on for the second: it fetched
    // again only what the first was applying, never every layer.
    const layerGets = (from: number) => proxy.blobs.slice(from).filter((b) => !b.path.endsWith(id)).length;
    assert.ok(
      layerGets(cutAt) < tars.length,
      `the second pull fetched every layer again: ${JSON.stringify(proxy.blobs)}`,
    );
    await until('no scratch file left', () => (leftovers(d).scratch as string[]).length === 0);
    assert.equal(openFetches(proxy).length, 0);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});

test('a pull whose client goes away while another pull holds the image lock ends without waiting for it', async () => {
  const d = await startDaemon(['--log-level', 'debug']);
  const reg = await startRegistry();
  // 64 KiB every 100 ms per layer: the first pull holds the lock for seconds while it unpacks.
  const proxy = await startTrickleProxy(reg.addr, 100);
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/holds', 'v1', tars);
    const small = [await makeTar([{ name: 'waits/file', content: 'small\n' }])];
    const smallID = await pushRaw(reg.addr, 'team/waits', 'v1', small);
    const holderRef = `${proxy.addr}/team/holds`;
    const waiterRef = `${reg.addr}/team/waits`;

    // The first pull unpacks (it says `Extracting`) only once it holds the lock.
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    let holderDone = false;
    const holder = streamedCall(d, pullPath(holderRef, 'v1'), (m) => {
      if (m.status === 'Extracting') holding();
      return false;
    }).finally(() => (holderDone = true));
    await held;

    // The second has its manifest and config, and waits for the lock: its client hangs up.
    await cutOff(d, pullPath(waiterRef, 'v1'), (m) => m.status === 'Pulling fs layer');
    const waiterEnded = () => d.log().includes(`POST /images/create?fromImage=${encodeURIComponent(waiterRef)}`);
    await until('the cancelled pull to end', () => waiterEnded() || holderDone, 30_000);
    assert.ok(waiterEnded() && !holderDone, 'the cancelled pull ended while the other still held the lock');

    const { messages } = await holder;
    const r = { status: 200, messages, text: messages.map((m) => JSON.stringify(m)).join('\n') };
    assert.equal(errorOf(r), undefined, r.text);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${holderRef}:v1`]).stdout.trim(), id);
    // Nothing of the cancelled pull was stored, and pulling it again works.
    assert.notEqual(d.docker(['image', 'inspect', `${waiterRef}:v1`]).status, 0);
    const again = await pullImage(d.socket, waiterRef, { tag: 'v1' });
    assert.equal(errorOf(again), undefined, again.text);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${waiterRef}:v1`]).stdout.trim(), smallID);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});

test('a push whose client goes away stops uploading; the next push completes', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const proxy = await startSlowUploadProxy(reg.addr, 20);
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/src', 'v1', tars);
    const r = await pullImage(d.socket, `${reg.addr}/team/src`, { tag: 'v1' });
    assert.equal(errorOf(r), undefined, r.text);
    const name = `${proxy.addr}/team/up`;
    assert.equal(d.docker(['tag', `${reg.addr}/team/src:v1`, `${name}:v1`]).status, 0);
    const seen = await cutOff(
      d,
      `/images/${name}/push?tag=v1`,
      (m) => m.status === 'Pushing' && proxy.uploads.some((u) => u.state === 'open'),
    );
    assert.ok(!seen.some((m) => m.status === 'Pushed'), 'a layer was pushed before the cut');
    await until('the uploads to close', () => proxy.uploads.every((u) => u.state !== 'open'));
    assert.ok(
      proxy.uploads.some((u) => u.state === 'cut'),
      `no upload was cut: ${JSON.stringify(proxy.uploads)}`,
    );
    const sent = proxy.requests.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(proxy.requests.slice(sent), [], 'requests sent after the cut');

    const again = await pushImage(d.socket, name, 'v1');
    assert.equal(errorOf(again), undefined, again.text);
    ok(d.docker(['rmi', `${name}:v1`, `${reg.addr}/team/src:v1`]), 'rmi');
    const pushed = await pullImage(d.socket, name, { tag: 'v1' });
    assert.equal(errorOf(pushed), undefined, pushed.text);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${name}:v1`]).stdout.trim(), id);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});
