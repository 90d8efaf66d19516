// Containers under real runc confined as Docker's are: what the kernel reports in
// /proc/self/status (capability masks, seccomp mode, no_new_privs) for the default and for each
// security flag, user namespaces refused by the default seccomp profile, Docker's refusals at
// create (nothing made), inspect showing the flags as given, and `docker info`'s security lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';
import { execFileSync } from 'node:child_process';
import { allCapabilities, capabilityMask, DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';
import { lacksNovember2025Fixes } from '../../src/runtime/runc-version.js';

let d: TestDaemon;
const IMG = 'bb:sec';

before(async () => {
  d = await startDaemon();
  const archive = path.join(d.dir, 'bb.tar');
  fs.writeFileSync(archive, await busyboxArchive(IMG));
  ok(d.docker(['load', '-i', archive]), 'load');
});

after(async () => {
  await d.stop();
});

interface Status {
  CapEff: string;
  CapPrm: string;
  CapBnd: string;
  Seccomp: string;
  NoNewPrivs: string;
}

/** The confinement the kernel reports for a container's process run with `flags`. */
function statusOf(flags: string[]): Status {
  const out = ok(d.docker(['run', '--rm', ...flags, IMG, 'cat', '/proc/self/status']), `run ${flags.join(' ')}`);
  const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)$`, 'm').exec(out)?.[1] ?? '';
  return {
    CapEff: field('CapEff'),
    CapPrm: field('CapPrm'),
    CapBnd: field('CapBnd'),
    Seccomp: field('Seccomp'),
    NoNewPrivs: field('NoNewPrivs'),
  };
}

/** `busybox unshare -U`: creating a user namespace, which Docker's default profile refuses. */
function unshareUser(flags: string[]): { status: number; stderr: string } {
  const r = d.docker(['run', '--rm', ...flags, IMG, 'busybox', 'unshare', '-U', 'true']);
  return { status: r.status, stderr: r.stderr };
}

const DOCKER_DEFAULT_MASK = capabilityMask(DEFAULT_CAPABILITIES);

test('a default container: Docker capability set, seccomp filter on, no_new_privs off', () => {
  assert.equal(DOCKER_DEFAULT_MASK, '00000000a80425fb');
  assert.deepEqual(statusOf([]), {
    CapEff: DOCKER_DEFAULT_MASK,
    CapPrm: DOCKER_DEFAULT_MASK,
    CapBnd: DOCKER_DEFAULT_MASK,
    Seccomp: '2',
    NoNewPrivs: '0',
  });
});

test('a default container may not create a user namespace (EPERM from the seccomp filter)', () => {
  const r = unshareUser([]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unshare\(0x10000000\): Operation not permitted/);
});

test('seccomp=unconfined: no filter, and the same unshare succeeds', () => {
  assert.equal(statusOf(['--security-opt', 'seccomp=unconfined']).Seccomp, '0');
  assert.equal(unshareUser(['--security-opt', 'seccomp=unconfined']).status, 0);
});

test('a profile given by the client replaces the default', () => {
  const file = path.join(d.dir, 'no-mkdir.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
    }),
  );
  const r = d.docker([
    'run',
    '--rm',
    '--security-opt',
    `seccomp=${file}`,
    IMG,
    'sh',
    '-c',
    'grep Seccomp: /proc/self/status; mkdir /x',
  ]);
  assert.match(r.stdout, /Seccomp:\s+2/);
  assert.match(r.stderr, /can't create directory '\/x': Operation not permitted/);
  assert.notEqual(r.status, 0);
  // The default profile allows unshare(CLONE_NEWUSER) for no one; this one allows it.
  assert.equal(unshareUser(['--security-opt', `seccomp=${file}`]).status, 0);
});

test('--cap-add and --cap-drop change the masks the kernel shows', () => {
  assert.equal(statusOf(['--cap-add', 'sys_admin']).CapEff, '00000000a82425fb');
  assert.equal(statusOf(['--cap-drop', 'NET_RAW']).CapEff, '00000000a80405fb');
  assert.equal(statusOf(['--cap-drop', 'all', '--cap-add', 'CAP_CHOWN']).CapBnd, '0000000000000001');
  // CAP_SYS_ADMIN brings the namespace syscalls back, as in Docker's profile.
  assert.equal(unshareUser(['--cap-add', 'SYS_ADMIN']).status, 0);
});

test('--privileged: every capability the daemon holds, no seccomp filter, the host devices', () => {
  const s = statusOf(['--privileged']);
  assert.equal(s.CapEff, capabilityMask(allCapabilities()));
  assert.equal(s.Seccomp, '0');
  const devs = ok(d.docker(['run', '--rm', '--privileged', IMG, 'ls', '/dev']), 'ls /dev')
    .split('\n')
    .filter(Boolean);
  const hostDevs = fs.readdirSync('/dev').filter((n) => {
    try {
      const st = fs.lstatSync(`/dev/${n}`);
      return st.isCharacterDevice() || st.isBlockDevice();
    } catch {
      return false;
    }
  });
  for (const n of hostDevs.filter((x) => x !== 'console'))
    assert.ok(devs.includes(n), `/dev/${n} in a privileged container`);
  // Masked paths (those this kernel has) are empty for a default container only.
  const masked = ['/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/kcore'].find(
    (p) => fs.existsSync(p) && fs.readFileSync(p).length > 0,
  );
  if (masked) {
    const size = (flags: string[]) =>
      ok(d.docker(['run', '--rm', ...flags, IMG, 'sh', '-c', `busybox wc -c < ${masked}`]), masked).trim();
    assert.equal(size([]), '0');
    assert.notEqual(size(['--privileged']), '0');
  }
});

test('no-new-privileges sets no_new_privs for the container and its execs', () => {
  assert.equal(statusOf(['--security-opt', 'no-new-privileges']).NoNewPrivs, '1');
  assert.equal(statusOf(['--security-opt', 'no-new-privileges=true']).NoNewPrivs, '1');
  assert.equal(statusOf(['--security-opt', 'no-new-privileges=false']).NoNewPrivs, '0');
  ok(d.docker(['run', '-d', '--name', 'nnp', '--security-opt', 'no-new-privileges', IMG, 'sleep', '1000']), 'run -d');
  try {
    assert.match(ok(d.docker(['exec', 'nnp', 'grep', 'NoNewPrivs', '/proc/self/status']), 'exec'), /NoNewPrivs:\s+1/);
  } finally {
    d.docker(['rm', '-f', 'nnp']);
  }
});

test('inspect shows CapAdd, CapDrop, Privileged and SecurityOpt as given', () => {
  const id = ok(
    d.docker([
      'create',
      '--cap-add',
      'SYS_ADMIN',
      '--cap-drop',
      'CAP_NET_RAW',
      '--security-opt',
      'no-new-privileges',
      '--security-opt',
      'seccomp=unconfined',
      IMG,
      'true',
    ]),
    'create',
  ).trim();
  try {
    const out = ok(
      d.docker([
        'inspect',
        '-f',
        '{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}} {{.HostConfig.Privileged}}',
        id,
      ]),
      'inspect',
    );
    assert.equal(out.trim(), '["CAP_SYS_ADMIN"] ["CAP_NET_RAW"] ["no-new-privileges","seccomp=unconfined"] false');
  } finally {
    d.docker(['rm', id]);
  }
});

test("bad capabilities and security options are refused at create with Docker's words, and nothing is made", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ CapAdd: ['FOO'] }, /^invalid CapAdd: unknown capability: "CAP_FOO"$/],
    [{ CapDrop: ['foo'] }, /^invalid CapDrop: unknown capability: "CAP_FOO"$/],
    [{ SecurityOpt: ['foo=bar'] }, /^invalid --security-opt 2: "foo=bar"$/],
    [{ SecurityOpt: ['bogus'] }, /^invalid --security-opt 1: "bogus"$/],
    [{ SecurityOpt: ['no-new-privileges=maybe'] }, /^invalid --security-opt 2: "no-new-privileges=maybe"$/],
    [{ SecurityOpt: ['seccomp={bad'] }, /^Decoding seccomp profile failed: /],
    [{ SecurityOpt: ['apparmor=docker-default'] }, /AppArmor is not supported by this daemon/],
    [{ SecurityOpt: ['label=type:svirt_t'] }, /SELinux labels are not supported by this daemon/],
  ];
  for (const [hostConfig, message] of cases) {
    const r = await d.request('POST', '/containers/create', { Image: IMG, Cmd: ['true'], HostConfig: hostConfig });
    assert.equal(r.status, 400, JSON.stringify(hostConfig));
    assert.match(JSON.parse(r.body).message, message);
  }
  const cli = d.docker(['create', '--cap-add', 'FOO', IMG, 'true']);
  assert.match(cli.stderr, /Error response from daemon: invalid CapAdd: unknown capability: "CAP_FOO"/);
  assert.equal(ok(d.docker(['ps', '-aq']), 'ps').trim(), '');
  assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'containers')), []);
  // What asks for less confinement than there is is accepted, as Docker does without AppArmor/SELinux.
  const id = ok(
    d.docker(['create', '--security-opt', 'apparmor=unconfined', '--security-opt', 'label=disable', IMG, 'true']),
    'create',
  ).trim();
  d.docker(['rm', id]);
});

test('docker info: the seccomp profile and a warning about the runc found', () => {
  const opts = JSON.parse(ok(d.docker(['info', '--format', '{{json .SecurityOptions}}']), 'info')) as string[];
  assert.deepEqual(opts, ['name=seccomp,profile=default']);
  const warnings =
    (JSON.parse(ok(d.docker(['info', '--format', '{{json .Warnings}}']), 'info')) as string[] | null) ?? [];
  const version = /^runc version (\S+)/m.exec(execFileSync('runc', ['--version'], { encoding: 'utf8' }))?.[1] ?? '';
  assert.equal(
    warnings.some((w) => w.includes(`runc ${version} lacks the fixes for CVE-2025-31133`)),
    lacksNovember2025Fixes(version),
    JSON.stringify(warnings),
  );
  assert.match(d.log(), /WARN .*CVE-2025-52881/, 'the warning is logged at start too');
});
