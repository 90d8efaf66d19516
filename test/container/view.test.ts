// ps's STATUS text and Docker's create-time config merge, without a daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, psCommand, statusText } from '../../src/container/view.js';
import { mergeImageConfig, processEnv, fillHostConfigDefaults } from '../../src/container/config-merge.js';
import { validateName } from '../../src/container/names.js';
import type { ContainerRecord } from '../../src/container/types.js';

test('go-units HumanDuration boundaries', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(3000), '3 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(3 * 3_600_000), '3 hours');
  assert.equal(humanDuration(72 * 3_600_000), '3 days');
});

test('status text for created, running, exited', () => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  const rec = (state: Partial<ContainerRecord['state']>) =>
    ({
      state: {
        Status: 'created',
        Running: false,
        Pid: 0,
        ExitCode: 0,
        Error: '',
        StartedAt: '0001-01-01T00:00:00Z',
        FinishedAt: '0001-01-01T00:00:00Z',
        ...state,
      },
    }) as ContainerRecord;
  assert.equal(statusText(rec({}), now), 'Created');
  assert.equal(
    statusText(rec({ Status: 'running', Running: true, StartedAt: '2026-01-01T00:00:07Z' }), now),
    'Up 3 seconds',
  );
  assert.equal(
    statusText(rec({ Status: 'exited', ExitCode: 3, FinishedAt: '2026-01-01T00:00:08Z' }), now),
    'Exited (3) 2 seconds ago',
  );
  assert.equal(
    statusText(rec({ Status: 'paused', Running: true, StartedAt: '2026-01-01T00:00:09Z' }), now),
    'Up 1 second (Paused)',
  );
});

test('ps COMMAND quotes the arguments that hold a space', () => {
  assert.equal(psCommand('/bin/sh', ['-c', 'exit 3']), "/bin/sh -c 'exit 3'");
  assert.equal(psCommand('sleep', ['1000']), 'sleep 1000');
  assert.equal(psCommand('/my app', []), '/my app');
});

test('image config merge: user env first, Cmd only without Entrypoint, labels combined', () => {
  const image = {
    Env: ['PATH=/bin', 'A=image'],
    Cmd: ['sh'],
    Entrypoint: null,
    Labels: { x: '1' },
    WorkingDir: '/w',
    Volumes: { '/data': {} },
  };
  const m = mergeImageConfig({ Env: ['A=user', 'B=2'], Cmd: null, Labels: { y: '2' } }, image);
  assert.deepEqual(m.Env, ['A=user', 'B=2', 'PATH=/bin']);
  assert.deepEqual(m.Cmd, ['sh']);
  assert.equal(m.WorkingDir, '/w');
  assert.deepEqual(m.Labels, { x: '1', y: '2' });
  assert.deepEqual(m.Volumes, { '/data': {} });
  assert.equal(mergeImageConfig({ Entrypoint: ['/app'], Cmd: null }, image).Cmd, null);
  // --entrypoint "" sends [""]: no entrypoint at all, not the image's.
  const cleared = mergeImageConfig({ Entrypoint: [''], Cmd: ['echo', 'hi'] }, { ...image, Entrypoint: ['/init'] });
  assert.equal(cleared.Entrypoint, null);
  assert.deepEqual(cleared.Cmd, ['echo', 'hi']);
  assert.deepEqual(processEnv({ Env: ['HOSTNAME=x', 'A=1'] }, 'abc', true), [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOSTNAME=x',
    'TERM=xterm',
    'A=1',
  ]);
  const hc = fillHostConfigDefaults({ MemorySwappiness: -1, PidsLimit: 0 });
  assert.equal(hc.ShmSize, 67108864);
  assert.equal(hc.MemorySwappiness, null);
  assert.deepEqual(hc.LogConfig, { Type: 'json-file', Config: {} });
});

test('container names', () => {
  assert.equal(validateName('/web-1'), 'web-1');
  assert.throws(
    () => validateName('bad name'),
    /Invalid container name \(bad name\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed/,
  );
  assert.throws(() => validateName('a'), /Invalid container name/);
});

test('detach keys: the default sequence detaches, a broken-off prefix is forwarded', async () => {
  const { detachFilter, parseDetachKeys } = await import('../../src/container/detach-keys.js');
  assert.deepEqual(parseDetachKeys(''), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a,x'), [1, 120]);
  assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys \(ctrl-1\) provided/);
  const f = detachFilter([16, 17]);
  assert.deepEqual(f(Buffer.from([65, 16])), { forward: Buffer.from([65]), detach: false });
  assert.deepEqual(f(Buffer.from([66])), { forward: Buffer.from([16, 66]), detach: false });
  assert.deepEqual(f(Buffer.from([16, 17, 67])), { forward: Buffer.alloc(0), detach: true });
});
