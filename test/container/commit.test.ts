// docker commit: what the image service is asked to create from a container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from '../../src/archive/tarstream.js';
import { commitContainer } from '../../src/container/commit-ops.js';
import { InvalidParameter, NotFound } from '../../src/errors.js';
import { fakeEngine } from './fake-engine.js';

async function layerNames(layer: Readable): Promise<string[]> {
  const names: string[] = [];
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    names.push(h.name.replace(/\/$/, ''));
    stream.resume();
    stream.on('end', next);
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  layer.pipe(ex);
  await done;
  return names;
}

test('commit: layer of the writable layer, merged config, history row', async () => {
  const f = fakeEngine({
    config: { Cmd: ['sh', '-c', 'echo x > /f'], Env: ['PATH=/bin'], Labels: { a: 'b' }, Hostname: 'h1' },
  });
  try {
    const upper = path.join(f.dir, 'upper');
    const lower = path.join(f.dir, 'lower');
    fs.mkdirSync(upper);
    fs.mkdirSync(lower);
    fs.writeFileSync(path.join(upper, 'f'), 'x\n');
    f.setDiffSource({ kind: 'overlay', upper, lowers: [lower] });
    const result = await commitContainer(f.engine, 'box', {
      repo: 'committed',
      tag: 'v1',
      comment: 'hello msg',
      author: 'me <m@x>',
      changes: ['ENV A=1', 'CMD ["cat","/f"]'],
    });
    assert.deepEqual(result, { Id: 'sha256:' + 'b'.repeat(64) });
    assert.equal(f.created.length, 1);
    const opts = f.created[0]!;
    assert.equal(opts.parentId, f.record.imageId);
    assert.equal(opts.tag, 'committed:v1');
    assert.deepEqual(opts.history, { created_by: 'sh -c echo x > /f', author: 'me <m@x>', comment: 'hello msg' });
    assert.deepEqual(opts.config.Env, ['PATH=/bin', 'A=1']);
    assert.deepEqual(opts.config.Cmd, ['cat', '/f']);
    assert.deepEqual(opts.config.Labels, { a: 'b' });
    assert.equal(opts.config.Hostname, 'h1');
    assert.equal(opts.extra?.container, f.record.id);
    assert.deepEqual((opts.extra?.container_config as { Cmd: string[] }).Cmd, ['sh', '-c', 'echo x > /f']);
    assert.deepEqual(await layerNames(opts.layer!), ['f']);
  } finally {
    f.cleanup();
  }
});

test('commit: body config as the starting point, no repo means no tag', async () => {
  const f = fakeEngine({ config: { Cmd: ['sh'], Env: ['PATH=/bin'], User: 'u' } });
  try {
    await commitContainer(f.engine, 'box', { tag: 'ignored', config: { Cmd: ['/run'], Env: ['X=1'] } });
    const opts = f.created[0]!;
    assert.equal(opts.tag, undefined);
    assert.deepEqual(opts.config.Cmd, ['/run']);
    assert.deepEqual(opts.config.Env, ['X=1', 'PATH=/bin']);
    assert.equal(opts.config.User, 'u');
    assert.equal(opts.history.author, undefined);
    await commitContainer(f.engine, 'box', { config: {} });
    assert.deepEqual(f.created[1]!.config.Cmd, ['sh'], 'an empty body means the container config');
  } finally {
    f.cleanup();
  }
});

test('commit: errors before anything is exported', async () => {
  const f = fakeEngine();
  try {
    await assert.rejects(commitContainer(f.engine, 'nope', {}), NotFound);
    await assert.rejects(
      commitContainer(f.engine, 'box', { repo: 'Bad' }),
      (e: unknown) => e instanceof InvalidParameter && /invalid reference format/.test((e as Error).message),
    );
    await assert.rejects(commitContainer(f.engine, 'box', { changes: ['RUN x'] }), {
      message: 'run is not a valid change command',
    });
    assert.equal(f.created.length, 0);
  } finally {
    f.cleanup();
  }
});
