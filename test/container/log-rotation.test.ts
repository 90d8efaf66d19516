// json-file rotation (max-size/max-file, per container and from daemon.json) and docker logs
// reading across the rotated files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';
import { fileURLToPath } from 'node:url';
import { fromHumanSize, mergeLogConfig, rotationOf } from '../../src/container/log-config.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let d: TestDaemon;
let cfgDir: string;
before(async () => {
  cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-logcfg-'));
  const cfg = path.join(cfgDir, 'daemon.json');
  fs.writeFileSync(
    cfg,
    JSON.stringify({ 'log-driver': 'json-file', 'log-opts': { 'max-size': '2k', 'max-file': '2' } }),
  );
  d = await startDaemon(['--config-file', cfg]);
  const tar = await busyboxArchive('logtest:latest');
  const r = spawnSync('docker', ['load'], { input: tar, env: { ...process.env, DOCKER_HOST: d.host } });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  d.docker(['rm', '-f', 'rot', 'dflt', 'follow', 'nolog', 'gz']);
  await d.stop();
  fs.rmSync(cfgDir, { recursive: true, force: true });
});

test("log options are checked with Docker's words", () => {
  assert.throws(() => mergeLogConfig({ Config: { x: '1' } }), /unknown log opt 'x' for json-file log driver$/);
  assert.throws(
    () => mergeLogConfig({ Type: 'syslog', Config: {} }),
    /error looking up logging plugin syslog: plugin "syslog" not found/,
  );
  assert.throws(() => rotationOf({ 'max-size': 'abc' }), /failed to initialize logging driver: invalid size: 'abc'/);
  assert.throws(() => rotationOf({ 'max-size': '0' }), /max-size must be a positive number/);
  assert.throws(() => rotationOf({ 'max-size': '1k', 'max-file': '0' }), /max-file cannot be less than 1/);
  assert.throws(() => rotationOf({ 'max-size': '1k', 'max-file': 'z' }), /strconv.Atoi: parsing "z": invalid syntax/);
  assert.deepEqual(
    rotationOf({ 'max-file': '3' }),
    { maxSize: -1, maxFiles: 3 },
    'max-file alone is accepted and rotates nothing',
  );
  assert.equal(fromHumanSize('10m'), 10_000_000);
  assert.throws(
    () => rotationOf({ 'max-size': '1k', 'max-file': '2', compress: 'yes' }),
    /strconv.ParseBool: parsing "yes": invalid syntax/,
  );
  assert.throws(
    () => rotationOf({ 'max-size': '1k', compress: 'true' }),
    /compress cannot be true when max-file is less than 2 or max-size is not set/,
  );
  assert.throws(
    () => mergeLogConfig(undefined, { Type: 'gelf', Config: {} }),
    /error looking up logging plugin gelf: plugin "gelf" not found/,
    'a daemon.json log-driver Strata does not have fails each create',
  );
  const merged = mergeLogConfig(
    { Type: '', Config: { 'max-file': '5' } },
    { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
  );
  assert.deepEqual(merged, { Type: 'json-file', Config: { 'max-file': '5', 'max-size': '1m' } });
});

test('daemon.json log-opts a driver does not know refuse the start, as dockerd does', () => {
  const bad = path.join(cfgDir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ 'log-opts': { x: '1' } }));
  const r = spawnSync(
    path.resolve(repoRoot, 'bin/strata'),
    [
      'daemon',
      '--config-file',
      bad,
      '--data-root',
      path.join(cfgDir, 'root'),
      '--exec-root',
      path.join(cfgDir, 'exec'),
      '--host',
      `unix://${path.join(cfgDir, 'bad.sock')}`,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /failed to set log opts: unknown log opt 'x' for json-file log driver/);
});

test('create refuses unknown options and drivers; start refuses bad values', () => {
  const opt = d.docker(['create', '--log-opt', 'x=1', 'logtest', 'true']);
  assert.notEqual(opt.status, 0);
  assert.match(opt.stderr, /unknown log opt 'x' for json-file log driver/);
  const drv = d.docker(['create', '--log-driver', 'foo', 'logtest', 'true']);
  assert.match(drv.stderr, /error looking up logging plugin foo: plugin "foo" not found/);
  const bad = d.docker(['run', '--rm', '--log-opt', 'max-size=abc', 'logtest', 'true']);
  assert.match(bad.stderr, /failed to initialize logging driver: invalid size: 'abc'/);
});

test('per-container max-size/max-file rotate as Docker names them, and logs read across the files', () => {
  // 400 lines of ~40 bytes of JSON each: far more than 3 × 4 kB, so files rotate and the oldest go.
  const run = d.docker([
    'run',
    '--name',
    'rot',
    '--log-opt',
    'max-size=4k',
    '--log-opt',
    'max-file=3',
    'logtest',
    'sh',
    '-c',
    'i=0; while [ $i -lt 400 ]; do echo line$i; i=$((i+1)); done',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const logPath =
    d.docker(['inspect', '-f', '{{.LogPath}}', 'rot']).stdout.trim() ||
    path.join(
      d.dataRoot,
      'containers',
      d.docker(['inspect', '-f', '{{.Id}}', 'rot']).stdout.trim(),
      `${d.docker(['inspect', '-f', '{{.Id}}', 'rot']).stdout.trim()}-json.log`,
    );
  const dir = path.dirname(logPath);
  const base = path.basename(logPath);
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(base))
    .sort();
  assert.deepEqual(files, [base, `${base}.1`, `${base}.2`]);
  for (const f of files) assert.ok(fs.statSync(path.join(dir, f)).size < 4000 + 200, `${f} stays near max-size`);
  const hc = JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'rot']).stdout);
  assert.deepEqual(hc, { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '4k' } });

  const lines = d.docker(['logs', 'rot']).stdout.trim().split('\n');
  assert.equal(lines.at(-1), 'line399');
  assert.ok(
    lines.length < 400 && lines.length > 100,
    `older lines were dropped with the oldest file (${lines.length} left)`,
  );
  const first = Number(lines[0]!.slice(4));
  assert.deepEqual(
    lines,
    Array.from({ length: lines.length }, (_, i) => `line${first + i}`),
    'in order, none missing, across files',
  );
  assert.deepEqual(d.docker(['logs', '--tail', '3', 'rot']).stdout, 'line397\nline398\nline399\n');

  const stamped = d.docker(['logs', '-t', 'rot']).stdout.trim().split('\n');
  const since = stamped[10]!.split(' ')[0]!;
  const after = d.docker(['logs', '--since', since, 'rot']).stdout.trim().split('\n');
  assert.equal(after[0], `line${first + 11}`, '--since reads from the right rotated file');
});

test('daemon.json log-opts are the default, shown in inspect, and rotate', () => {
  const run = d.docker([
    'run',
    '--name',
    'dflt',
    'logtest',
    'sh',
    '-c',
    'i=0; while [ $i -lt 200 ]; do echo default$i; i=$((i+1)); done',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const cfg = JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'dflt']).stdout);
  assert.deepEqual(cfg, { Type: 'json-file', Config: { 'max-file': '2', 'max-size': '2k' } });
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'dflt']).stdout.trim();
  const dir = path.join(d.dataRoot, 'containers', id);
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${id}-json.log`))
    .sort();
  assert.deepEqual(files, [`${id}-json.log`, `${id}-json.log.1`]);
  assert.equal(d.docker(['logs', '--tail', '1', 'dflt']).stdout, 'default199\n');
});

test('logs -f keeps following across a rotation', async () => {
  const run = d.docker([
    'run',
    '-d',
    '--name',
    'follow',
    '--log-opt',
    'max-size=1k',
    '--log-opt',
    'max-file=5',
    'logtest',
    'sh',
    '-c',
    'sleep 1; i=0; while [ $i -lt 100 ]; do echo f$i; i=$((i+1)); done',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const follow = spawnSync('docker', ['logs', '-f', 'follow'], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: d.host },
    timeout: 60_000,
  });
  assert.deepEqual(
    follow.stdout.trim().split('\n'),
    Array.from({ length: 100 }, (_, i) => `f${i}`),
  );
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'follow']).stdout.trim();
  assert.ok(
    fs.existsSync(path.join(d.dataRoot, 'containers', id, `${id}-json.log.2`)),
    'the log did rotate while followed',
  );
});

test('the none driver keeps nothing and logs says so, as Docker does', async () => {
  const run = d.docker(['run', '--name', 'nolog', '--log-driver', 'none', 'logtest', 'echo', 'hi']);
  assert.equal(run.stdout, 'hi\n', 'attached output still flows');
  const logs = d.docker(['logs', 'nolog']);
  assert.notEqual(logs.status, 0);
  assert.match(logs.stderr, /configured logging driver does not support reading/);
  assert.equal((await d.request('GET', '/v1.41/containers/nolog/logs?stdout=1')).status, 501);
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'nolog']).stdout.trim();
  assert.equal(fs.existsSync(path.join(d.dataRoot, 'containers', id, `${id}-json.log`)), false);
  assert.equal(d.docker(['inspect', '-f', '{{.LogPath}}', 'nolog']).stdout.trim(), '');
});

test('compress=true gzips the rotated files, and logs still reads them all in order', () => {
  const run = d.docker([
    'run',
    '--name',
    'gz',
    '--log-opt',
    'max-size=2k',
    '--log-opt',
    'max-file=4',
    '--log-opt',
    'compress=true',
    'logtest',
    'sh',
    '-c',
    'i=0; while [ $i -lt 120 ]; do echo z$i; i=$((i+1)); done',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'gz']).stdout.trim();
  const base = `${id}-json.log`;
  const files = fs
    .readdirSync(path.join(d.dataRoot, 'containers', id))
    .filter((f) => f.startsWith(base))
    .sort();
  assert.deepEqual(files, [base, `${base}.1.gz`, `${base}.2.gz`, `${base}.3.gz`]);
  const lines = d.docker(['logs', 'gz']).stdout.trim().split('\n');
  const first = Number(lines[0]!.slice(1));
  assert.ok(first > 0, 'the oldest entries went with the fourth file');
  assert.deepEqual(
    lines,
    Array.from({ length: 120 - first }, (_, i) => `z${first + i}`),
  );
});
