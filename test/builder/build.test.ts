// docker build (classic builder) against a real daemon: cache hits and misses, content-hash
// invalidation of COPY, history rows, a failing RUN, and sources outside the context.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './fixture.js';
import { makeTar } from '../image/fixture-archive.js';

let d: TestDaemon;
let work: string;
process.env.DOCKER_BUILDKIT = '0';

before(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-build-'));
  const archive = path.join(work, 'bb.tar');
  fs.writeFileSync(archive, await busyboxArchive('bb:latest'));
  const r = d.docker(['load', '-i', archive]);
  assert.equal(r.status, 0, r.stderr);
});

after(async () => {
  await d?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), data);
  }
  return dir;
}

function build(dir: string, ...args: string[]) {
  const r = d.docker(['build', ...args, dir]);
  return { ...r, out: r.stdout + r.stderr };
}

/** The step numbers reported as "Using cache", as the labs read them. */
function cachedSteps(out: string): number[] {
  const steps: number[] = [];
  let step = 0;
  for (const line of out.split('\n')) {
    const m = /^Step (\d+)\//.exec(line);
    if (m) step = Number(m[1]);
    if (line.includes('---> Using cache')) steps.push(step);
  }
  return steps;
}

const inspect = (ref: string, fmt: string) => d.docker(['image', 'inspect', '-f', fmt, ref]).stdout.trim();

test('cache: an unchanged rebuild reuses every step; a changed COPY source reruns from the COPY on', () => {
  const dir = context('cache', {
    'app.txt': 'v1\n',
    Dockerfile:
      'FROM bb\nRUN echo one > /one.txt\nENV A=1\nCOPY app.txt /opt/app/app.txt\nRUN cat /opt/app/app.txt > /copy.txt\nCMD ["cat", "/copy.txt"]\n',
  });
  const first = build(dir, '-t', 'cache:1');
  assert.equal(first.status, 0, first.out);
  assert.deepEqual(cachedSteps(first.out), []);
  assert.match(
    first.out,
    /Step 2\/6 : RUN echo one > \/one.txt\n ---> Running in [0-9a-f]{12}\nRemoving intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n/,
  );
  assert.match(first.out, /Successfully built [0-9a-f]{12}\nSuccessfully tagged cache:1\n/);
  const id1 = inspect('cache:1', '{{.Id}}');
  const layers1 = inspect('cache:1', '{{join .RootFS.Layers " "}}').split(' ');

  const again = build(dir, '-t', 'cache:1');
  assert.equal(again.status, 0, again.out);
  assert.deepEqual(cachedSteps(again.out), [2, 3, 4, 5, 6]);
  assert.equal(inspect('cache:1', '{{.Id}}'), id1);

  // A new modification time alone keeps the cache: only content and metadata count.
  const t = new Date(Date.now() + 60_000);
  fs.utimesSync(path.join(dir, 'app.txt'), t, t);
  assert.deepEqual(cachedSteps(build(dir, '-t', 'cache:1').out), [2, 3, 4, 5, 6]);

  fs.writeFileSync(path.join(dir, 'app.txt'), 'v2\n');
  const changed = build(dir, '-t', 'cache:1');
  assert.equal(changed.status, 0, changed.out);
  assert.deepEqual(cachedSteps(changed.out), [2, 3]);
  assert.notEqual(inspect('cache:1', '{{.Id}}'), id1);
  const layers2 = inspect('cache:1', '{{join .RootFS.Layers " "}}').split(' ');
  assert.deepEqual(layers2.slice(0, 2), layers1.slice(0, 2));
  assert.notEqual(layers2[2], layers1[2]);

  const nocache = build(dir, '--no-cache', '-t', 'cache:2');
  assert.deepEqual(cachedSteps(nocache.out), []);
});

test('history: one row per instruction, metadata rows 0B, COPY carries its content hash', () => {
  const dir = context('history', {
    'app.py': '#'.repeat(229),
    Dockerfile:
      'FROM bb\nRUN echo "pip packages" > /pip.txt\nCOPY app.py /opt/source-code/app.py\nENTRYPOINT ["cat", "/opt/source-code/app.py"]\n',
  });
  const r = build(dir, '-t', 'hist');
  assert.equal(r.status, 0, r.out);
  const rows = d
    .docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'hist'])
    .stdout.trim()
    .split('\n');
  assert.equal(rows.length, 4);
  assert.equal(rows[0], '/bin/sh -c #(nop)  ENTRYPOINT ["cat" "/opt/source-code/app.py"]|0B');
  assert.match(rows[1]!, /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/opt\/source-code\/app.py \|229B$/);
  assert.equal(rows[2], '/bin/sh -c echo "pip packages" > /pip.txt|13B');
  assert.equal(inspect('hist', '{{len .RootFS.Layers}}'), '3');
  assert.equal(inspect('hist', '{{json .Config.Entrypoint}}'), '["cat","/opt/source-code/app.py"]');
});

test("COPY and ADD hashes in history are Docker's, from the context's tarsums", () => {
  // The values Docker 20.10's daemon printed for this very context and Dockerfile.
  const dir = context('tarsum', {
    'a.txt': 'hello\n',
    'dir/b.txt': 'bee\n',
    'dir/sub/c.txt': 'sea\n',
    Dockerfile:
      'FROM busybox\nCOPY a.txt /a\nCOPY dir /dir\nCOPY a.txt dir/b.txt /multi/\nCOPY link /link\nCOPY . /all\nADD a.txt /add\nCOPY d* /wild/\n',
  });
  fs.symlinkSync('a.txt', path.join(dir, 'link'));
  for (const f of ['a.txt', 'dir/b.txt', 'dir/sub/c.txt', 'Dockerfile']) fs.chmodSync(path.join(dir, f), 0o644);
  for (const f of ['dir', 'dir/sub']) fs.chmodSync(path.join(dir, f), 0o755);
  assert.equal(d.docker(['tag', 'bb', 'busybox']).status, 0);
  try {
    const r = build(dir, '-t', 'tarsum');
    assert.equal(r.status, 0, r.out);
    const rows = d
      .docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'tarsum'])
      .stdout.trim()
      .split('\n')
      .slice(0, 7)
      .reverse();
    const file = 'file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda';
    const dirSum = 'dir:b68ba3ac0698cd0c382f7aad5fc8b171873992b563d6b7a7575b3952662682dc';
    assert.deepEqual(rows, [
      `/bin/sh -c #(nop) COPY ${file} in /a `,
      `/bin/sh -c #(nop) COPY ${dirSum} in /dir `,
      '/bin/sh -c #(nop) COPY multi:1be3a8ca84d06ec44d2a7b4c853cf14bb6b3e4fca04825eb4140ebb3748bff77 in /multi/ ',
      `/bin/sh -c #(nop) COPY ${file} in /link `,
      '/bin/sh -c #(nop) COPY dir:8f76167e150a81f909b0b3bfd4bc02aec4145281d5397dbe7c31521b5b2acf25 in /all ',
      `/bin/sh -c #(nop) ADD ${file} in /add `,
      `/bin/sh -c #(nop) COPY ${dirSum} in /wild/ `,
    ]);
  } finally {
    d.docker(['rmi', 'busybox']);
  }
});

test('a failing RUN stops the build with its exit code and tags nothing', () => {
  const dir = context('fail', { Dockerfile: 'FROM bb\nRUN echo before\nRUN exit 3\nRUN echo never\n' });
  const r = build(dir, '-t', 'failing');
  assert.notEqual(r.status, 0);
  assert.match(r.out, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
  assert.doesNotMatch(r.out, /never\n ---> Running/);
  assert.notEqual(d.docker(['image', 'inspect', 'failing']).status, 0);
});

test("sources outside the context are refused with Docker's messages", () => {
  const dir = context('escape', { 'f.txt': 'x', Dockerfile: 'FROM bb\nCOPY ../x /x\n' });
  const up = build(dir);
  assert.notEqual(up.status, 0);
  assert.match(up.out, /COPY failed: forbidden path outside the build context: \.\.\/x \(\)/);

  fs.symlinkSync('/etc/hostname', path.join(dir, 'lnk'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM bb\nCOPY lnk /x\n');
  const link = build(dir);
  assert.notEqual(link.status, 0);
  assert.match(
    link.out,
    /COPY failed: file not found in build context or excluded by \.dockerignore: stat lnk: file does not exist/,
  );

  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM bb\nADD http://example.com/x /x\n');
  assert.match(build(dir).out, /ADD failed: cannot download http:\/\/example.com\/x/);
});

test('ARG, ENV, WORKDIR, USER, multi-stage COPY --from, --chown, --target and --build-arg', () => {
  const dir = context('stages', {
    'a/one.txt': '1',
    'a/two.txt': '22',
    Dockerfile:
      [
        'ARG BASE=bb',
        'FROM ${BASE} AS first',
        'ARG WHO=nobody',
        'ENV GREETING="hello ${WHO}"',
        'WORKDIR /work',
        'RUN echo "$GREETING" > greeting.txt',
        'COPY --chown=bob:bob a/*.txt ./files/',
        'RUN test "$(busybox stat -c %u:%g files/two.txt)" = 1000:1000',
        'FROM bb',
        'COPY --from=first /work /copied',
        'RUN test "$(cat /copied/greeting.txt)" = "hello world" && test "$(cat /copied/files/two.txt)" = 22',
        'USER 1000',
        'CMD cat /copied/greeting.txt',
      ].join('\n') + '\n',
  });
  const r = build(dir, '--build-arg', 'WHO=world', '--build-arg', 'UNUSED=1', '-t', 'stages');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /Step 1\/13 : ARG BASE=bb\nStep 2\/13 : FROM \$\{BASE\} AS first\n/);
  assert.match(r.out, /\[Warning\] One or more build-args \[UNUSED\] were not consumed/);
  assert.equal(
    inspect('stages', '{{.Config.User}} {{json .Config.Cmd}}'),
    '1000 ["/bin/sh","-c","cat /copied/greeting.txt"]',
  );
  const history = d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'stages']).stdout;
  assert.match(history, /COPY dir:[0-9a-f]{64} in \/copied/);

  const first = build(dir, '--build-arg', 'WHO=world', '--target', 'first', '-t', 'first-stage');
  assert.equal(first.status, 0, first.out);
  assert.match(first.out, /Step 7\/8 : COPY --chown=bob:bob/);
  assert.equal(
    inspect('first-stage', '{{.Config.WorkingDir}} {{json .Config.Env}}'),
    '/work ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello world"]',
  );
  const runHistory = d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'first-stage']).stdout;
  assert.match(runHistory, /\|1 WHO=world \/bin\/sh -c echo "\$GREETING" > greeting.txt/);
});

test('a Dockerfile error fails the request before any step', () => {
  const dir = context('parse', { Dockerfile: 'FROM bb\nFOO bar\n' });
  const r = build(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /dockerfile parse error line 2: unknown instruction: FOO/);
  assert.doesNotMatch(r.out, /Step 1/);
});

test('large context files reach the image intact (their bytes are held until a COPY needs them)', () => {
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  const sum = createHash('sha256').update(big).digest('hex');
  const dir = context('big', {
    Dockerfile: `FROM bb\nCOPY data /data\nRUN test "$(busybox sha256sum /data/big.bin)" = "${sum}  /data/big.bin"\n`,
  });
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data/big.bin'), big);
  fs.linkSync(path.join(dir, 'data/big.bin'), path.join(dir, 'data/hardlink.bin'));
  const r = build(dir, '-t', 'big');
  assert.equal(r.status, 0, r.out);
  const again = build(dir, '-t', 'big');
  assert.deepEqual(cachedSteps(again.out), [2, 3]);
});

test('a rebuild sees a changed byte in a large file even with the same size and time', () => {
  const big = Buffer.alloc(200_000, 0x61);
  const dir = context('same-size', {
    Dockerfile: 'FROM bb\nCOPY big.bin /big.bin\nRUN busybox sha256sum /big.bin > /sum\n',
  });
  const file = path.join(dir, 'big.bin');
  const when = new Date('2024-01-02T03:04:05Z');
  const write = (b: Buffer) => {
    fs.writeFileSync(file, b);
    fs.utimesSync(file, when, when);
  };
  const sumIn = (tag: string) => d.docker(['run', '--rm', tag, 'cat', '/sum']).stdout.split(' ')[0];
  write(big);
  assert.equal(build(dir, '-t', 'same:1').status, 0);
  assert.deepEqual(cachedSteps(build(dir, '-t', 'same:1').out), [2, 3]);
  for (const at of [0, 100_000, big.length - 1]) {
    const changed = Buffer.from(big);
    changed[at] = 0x62;
    write(changed);
    const r = build(dir, '-t', `same:${at}`);
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(cachedSteps(r.out), [], `byte ${at}`);
    assert.equal(sumIn(`same:${at}`), createHash('sha256').update(changed).digest('hex'));
  }
  // The same relative path in another context with other bytes is another file.
  const other = context('same-size-other', {
    Dockerfile: 'FROM bb\nCOPY big.bin /big.bin\nRUN busybox sha256sum /big.bin > /sum\n',
  });
  fs.writeFileSync(path.join(other, 'big.bin'), Buffer.alloc(200_000, 0x63));
  const r = build(other, '-t', 'same:other');
  assert.deepEqual(cachedSteps(r.out), []);
});

test('steps run in containers of the engine: events, VOLUME writes discarded, failed or --rm=false containers left', () => {
  const before = Math.floor(Date.now() / 1000);
  const dir = context('containers', {
    Dockerfile:
      'FROM bb\nRUN mkdir /data && echo seeded > /data/seed\nVOLUME /data\nRUN echo after > /data/after && echo changed > /data/seed\nENV A=1\n',
  });
  const volumesBefore = d.docker(['volume', 'ls', '-q']).stdout;
  const r = build(dir, '--no-cache', '-t', 'steps:1');
  assert.equal(r.status, 0, r.out);
  // What a step writes under a VOLUME path never reaches the image (the step had a volume there).
  assert.equal(d.docker(['run', '--rm', 'steps:1', 'sh', '-c', 'ls /data; cat /data/seed']).stdout, 'seed\nseeded\n');
  assert.equal(
    d.docker(['volume', 'ls', '-q']).stdout,
    volumesBefore,
    "the steps' anonymous volumes are removed with them",
  );
  const ids = [...r.out.matchAll(/---> Running in ([0-9a-f]{12})/g)].map((m) => m[1]!);
  assert.equal(ids.length, 4);
  const events = d
    .docker([
      'events',
      '--since',
      String(before),
      '--until',
      String(Math.floor(Date.now() / 1000) + 1),
      '--filter',
      'type=container',
      '--format',
      '{{.Action}} {{.Actor.ID}}',
    ])
    .stdout.trim()
    .split('\n');
  const of = (id: string) =>
    events
      .filter((e) => e.split(' ')[1]!.startsWith(id))
      .map((e) => e.split(' ')[0])
      .join(',');
  assert.equal(of(ids[0]!), 'create,attach,start,die,destroy');
  assert.equal(of(ids[3]!), 'create,destroy', 'ENV: a container made and removed, never started');

  const kept = build(dir, '--no-cache', '--rm=false', '-t', 'steps:2');
  assert.equal(kept.status, 0, kept.out);
  assert.doesNotMatch(kept.out, /Removing intermediate container/);
  const keptIds = [...kept.out.matchAll(/---> Running in ([0-9a-f]{12})/g)].map((m) => m[1]!);
  const status = (id: string) =>
    d.docker(['ps', '-a', '--no-trunc', '--filter', `id=${id}`, '--format', '{{.Status}}|{{.Command}}']).stdout.trim();
  assert.match(status(keptIds[0]!), /^Exited \(0\) .*\|"\/bin\/sh -c 'mkdir \/data && echo seeded > \/data\/seed'"$/);
  assert.match(status(keptIds[3]!), /^Created\|"\/bin\/sh -c '#\(nop\) ' 'ENV A=1'"$/);
  assert.equal(d.docker(['diff', keptIds[0]!]).stdout, 'A /data\nA /data/seed\n');
  assert.equal(d.docker(['rm', '-v', ...keptIds]).status, 0);

  const failing = context('failing', { Dockerfile: 'FROM bb\nRUN echo partial > /partial && exit 3\n' });
  const failed = build(failing, '-t', 'steps:failed');
  assert.equal(failed.status, 3, "the CLI exits with the step's code");
  const failedId = /---> Running in ([0-9a-f]{12})/.exec(failed.out)![1]!;
  assert.match(status(failedId), /^Exited \(3\) /, "a failed step's container stays for inspection");
  assert.equal(d.docker(['diff', failedId]).stdout, 'A /partial\n');
  assert.equal(d.docker(['rm', failedId]).status, 0);
  const forced = build(failing, '--force-rm', '-t', 'steps:failed');
  const forcedId = /---> Running in ([0-9a-f]{12})/.exec(forced.out)![1]!;
  assert.match(forced.out, new RegExp(`Removing intermediate container ${forcedId}`));
  assert.equal(status(forcedId), '');
});

test("a COPY of a hard link's second name sees its content change (Docker's sum would not)", () => {
  const dir = context('hardlinks', { Dockerfile: 'FROM bb\nCOPY x/b.bin /b.bin\n', 'x/a.bin': 'one\n' });
  fs.linkSync(path.join(dir, 'x/a.bin'), path.join(dir, 'x/b.bin'));
  assert.equal(build(dir, '-t', 'hl').status, 0);
  assert.deepEqual(cachedSteps(build(dir, '-t', 'hl').out), [2]);
  fs.writeFileSync(path.join(dir, 'x/a.bin'), 'two\n');
  const r = build(dir, '-t', 'hl');
  assert.deepEqual(cachedSteps(r.out), []);
  assert.equal(d.docker(['run', '--rm', 'hl', 'cat', '/b.bin']).stdout, 'two\n');
});

test("ONBUILD triggers run in the child's FROM step, which prints its one ---> line after them", () => {
  const parent = context('onbuild-parent', { Dockerfile: 'FROM bb\nONBUILD RUN echo t1 > /t1\nONBUILD ENV T2=2\n' });
  assert.equal(build(parent, '-t', 'ob:parent').status, 0);
  const child = context('onbuild-child', { Dockerfile: 'FROM ob:parent\nRUN cat /t1\n' });
  const r = build(child, '-t', 'ob:child');
  assert.equal(r.status, 0, r.out);
  assert.match(
    r.out,
    /Step 1\/2 : FROM ob:parent\n# Executing 2 build triggers\n ---> Running in [0-9a-f]{12}\nRemoving intermediate container [0-9a-f]{12}\n ---> Running in [0-9a-f]{12}\nRemoving intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\nStep 2\/2 : RUN cat \/t1\n ---> Running in [0-9a-f]{12}\nt1\n/,
  );
  assert.equal(d.docker(['run', '--rm', 'ob:child', 'sh', '-c', 'echo $T2']).stdout, '2\n');
  assert.equal(inspect('ob:child', '{{json .Config.OnBuild}}'), 'null');
});

test("strata image layers: each layer's bytes and inodes, how many images share it, the step that made it", async () => {
  const base = context('layers-base', { Dockerfile: 'FROM bb\nRUN mkdir /shared && echo 12345 > /shared/a\n' });
  assert.equal(build(base, '-t', 'layers:base').status, 0);
  const top = context('layers-top', {
    Dockerfile: 'FROM layers:base\nENV X=1\nRUN mkdir /own && for i in 1 2 3; do echo $i > /own/f$i; done\n',
  });
  assert.equal(build(top, '-t', 'layers:top').status, 0);
  const r = await d.request('GET', '/strata/images/layers:top/layers');
  assert.equal(r.status, 200, r.body);
  const layers = JSON.parse(r.body) as {
    Index: number;
    DiffID: string;
    Size: number;
    Inodes: number;
    SharedBy: number;
    CreatedBy: string;
  }[];
  const diffIDs = inspect('layers:top', '{{json .RootFS.Layers}}');
  assert.deepEqual(
    layers.map((l) => l.DiffID),
    JSON.parse(diffIDs),
  );
  const [shared, own] = layers.slice(-2);
  assert.equal(own!.SharedBy, 1);
  assert.ok(shared!.SharedBy >= 2, 'layers:base holds it too');
  assert.ok(layers[0]!.SharedBy >= 3, 'every image built on bb holds its layer');
  assert.match(own!.CreatedBy, /^\/bin\/sh -c mkdir \/own/);
  assert.match(shared!.CreatedBy, /^\/bin\/sh -c mkdir \/shared/);
  // /own, its three files (the layer's root directory counts too) and nothing from below.
  assert.equal(own!.Size, 6);
  assert.equal(own!.Inodes, 5);
  assert.equal((await d.request('GET', '/strata/images/nosuch:image/layers')).status, 404);

  const cli = spawnSync(path.resolve('bin/strata'), ['-H', d.host, 'image', 'layers', 'layers:top'], {
    encoding: 'utf8',
  });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /^# +DIFF ID +SIZE +INODES +SHARED BY +CREATED BY\n/);
  assert.match(
    cli.stdout,
    new RegExp(`\\n${layers.length - 1} +${own!.DiffID.slice(7, 19)} +6B +5 +this image +/bin/sh -c mkdir /own`),
  );
  assert.match(cli.stdout, new RegExp(`\\n${layers.length} layers; 1 held by no other image: 6B\\n$`));
});

test('-f outside the context (the CLI sends a tar without its end blocks), --compress, -q and --iidfile', () => {
  const dir = context('outside/ctx', { 'ok.txt': 'ok\n', 'secret.txt': 'no\n', '.dockerignore': 'secret.txt\n' });
  const dockerfile = path.join(work, 'outside', 'Dockerfile.elsewhere');
  fs.writeFileSync(dockerfile, 'FROM bb\nCOPY ok.txt /ok.txt\nRUN cat /ok.txt\n');
  const iid = path.join(work, 'outside', 'iid');
  const r = build(dir, '-f', dockerfile, '--compress', '-q', '--iidfile', iid, '-t', 'outside');
  assert.equal(r.status, 0, r.out);
  const id = fs.readFileSync(iid, 'utf8');
  assert.match(id, /^sha256:[0-9a-f]{64}\n$/); // with -q the CLI writes the quiet output, newline included, as with Docker
  assert.equal(r.stdout, id);
  fs.writeFileSync(dockerfile, 'FROM bb\nCOPY secret.txt /s\n');
  const ignored = build(dir, '-f', dockerfile);
  assert.match(
    ignored.out,
    /COPY failed: file not found in build context or excluded by \.dockerignore: stat secret.txt: file does not exist/,
  );
});

test('ADD unpacks local tar archives (plain or gzip) and copies other files; --label adds a LABEL step', async () => {
  const archive = await makeTar([
    { name: 'sub/', type: 'directory' },
    { name: 'a', data: 'a\n' },
    { name: 'sub/b', data: 'b\n' },
  ]);
  const dir = context('add', {
    Dockerfile:
      [
        'FROM bb',
        'ADD arch.tgz /x/',
        'ADD plain.tar /y',
        'ADD note.gz /note.gz',
        'COPY arch.tgz /copied/',
        'RUN test "$(cat /x/sub/b)" = b && test "$(cat /y/a)" = a && test -f /note.gz && test -f /copied/arch.tgz',
      ].join('\n') + '\n',
  });
  fs.writeFileSync(path.join(dir, 'arch.tgz'), zlib.gzipSync(archive));
  fs.writeFileSync(path.join(dir, 'plain.tar'), archive);
  fs.writeFileSync(path.join(dir, 'note.gz'), zlib.gzipSync('not a tar\n'));
  const r = build(dir, '--label', 'team=storage', '-t', 'added');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /Step 7\/7 : LABEL team=storage\n/);
  assert.equal(inspect('added', '{{index .Config.Labels "team"}}'), 'storage');
});
