// Docker-format seccomp profiles settled per container (arch, capabilities, kernel), Docker's
// capability arithmetic and masks, and the runc version check behind `docker info`'s warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelAtLeast, ociSeccomp, parseSeccompProfile, type SeccompProfile } from '../../src/runtime/seccomp.js';
import { loadDefaultSeccompProfile } from '../../src/runtime/seccomp-default.js';
import {
  allCapabilities,
  capabilities,
  capabilityMask,
  DEFAULT_CAPABILITIES,
  validateCapabilities,
} from '../../src/runtime/capabilities.js';
import { lacksNovember2025Fixes, runcWarning } from '../../src/runtime/runc-version.js';
import { metricsAddrWarning } from '../../src/system/metrics.js';
import { parseSecurityOpts, confinementOf } from '../../src/container/security-opts.js';

const PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    { names: ['unshare', 'mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { name: 'socket', action: 'SCMP_ACT_ERRNO', errnoRet: 22, excludes: { caps: ['CAP_AUDIT_WRITE'] } },
  ],
};

const names = (s: ReturnType<typeof ociSeccomp>) => s.syscalls.flatMap((r) => r.names);

test('conditions are settled by the container capabilities, the arch and the kernel', () => {
  const def = ociSeccomp(PROFILE, { capabilities: DEFAULT_CAPABILITIES, arch: 'x64', kernel: '6.1.0' });
  assert.deepEqual(def.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.equal(def.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(def.defaultErrnoRet, 1);
  assert.deepEqual(names(def), ['read', 'write', 'arch_prctl', 'clone', 'ptrace']);
  assert.deepEqual(def.syscalls.find((r) => r.names[0] === 'clone')!.args, [
    { index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' },
  ]);

  const admin = ociSeccomp(PROFILE, {
    capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'],
    arch: 'x64',
    kernel: '6.1.0',
  });
  assert.deepEqual(names(admin), ['read', 'write', 'arch_prctl', 'unshare', 'mount', 'ptrace']);

  const arm = ociSeccomp(PROFILE, { capabilities: [], arch: 'arm64', kernel: '4.4.0' });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  // No CAP_AUDIT_WRITE: the legacy single `name` rule applies; old kernel: no ptrace.
  assert.deepEqual(names(arm), ['read', 'write', 'clone', 'socket']);
  assert.equal(arm.syscalls.at(-1)!.errnoRet, 22);
});

test('kernel versions compare by major and minor', () => {
  assert.ok(kernelAtLeast('6.18.44-fc-v1098', '4.8'));
  assert.ok(kernelAtLeast('4.8.0', '4.8'));
  assert.ok(!kernelAtLeast('4.7.10', '4.8'));
  assert.ok(!kernelAtLeast('3.19', '4.8'));
});

test('a profile that is not one is refused with Docker words', () => {
  assert.throws(() => parseSeccompProfile('{bad'), {
    kind: 'invalid-parameter',
    message: /^Decoding seccomp profile failed: /,
  });
  assert.throws(() => parseSeccompProfile('[]'), /Decoding seccomp profile failed: the profile must be a JSON object/);
  assert.throws(() => parseSeccompProfile('{"defaultAction":"BOGUS"}'), /invalid defaultAction "BOGUS"/);
  assert.throws(
    () => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"nope"}]}'),
    /invalid action "nope"/,
  );
  assert.equal(parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW"}').defaultAction, 'SCMP_ACT_ALLOW');
});

test("Docker's default profile: unshare and mount only with CAP_SYS_ADMIN, chroot with CAP_SYS_CHROOT", () => {
  const loaded = loadDefaultSeccompProfile();
  assert.ok(loaded.profile, `the default profile must be installed (scripts/install-deps.sh): ${loaded.warning}`);
  const def = ociSeccomp(loaded.profile, { capabilities: DEFAULT_CAPABILITIES });
  const allowed = new Set(def.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
  for (const n of ['read', 'openat', 'chroot', 'execve']) assert.ok(allowed.has(n), n);
  for (const n of ['unshare', 'mount', 'setns', 'keyctl', 'bpf', 'pivot_root', 'umount2'])
    assert.ok(!allowed.has(n), n);
  const admin = ociSeccomp(loaded.profile, { capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
  const adminAllowed = new Set(admin.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names));
  for (const n of ['unshare', 'mount', 'setns', 'umount2']) assert.ok(adminAllowed.has(n), n);
  const noChroot = ociSeccomp(loaded.profile, {
    capabilities: DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT'),
  });
  assert.ok(!noChroot.syscalls.some((r) => r.names.includes('chroot')));
});

test("Docker's default capability set is the kernel's 00000000a80425fb", () => {
  assert.equal(capabilityMask(DEFAULT_CAPABILITIES), '00000000a80425fb');
  assert.equal(capabilityMask(capabilities({})), '00000000a80425fb');
  assert.equal(capabilityMask(capabilities({ capAdd: ['sys_admin'] })), '00000000a82425fb');
  assert.equal(capabilityMask(capabilities({ capDrop: ['NET_RAW'] })), '00000000a80405fb');
  assert.deepEqual(capabilities({ capDrop: ['ALL'], capAdd: ['chown'] }), ['CAP_CHOWN']);
  assert.deepEqual(capabilities({ capDrop: ['all'] }), []);
  // As in Docker, an added ALL wins over a dropped ALL; named drops still apply.
  assert.deepEqual(capabilities({ capAdd: ['ALL'], capDrop: ['ALL'] }), allCapabilities());
  assert.ok(!capabilities({ capAdd: ['ALL'], capDrop: ['CAP_SYS_ADMIN'] }).includes('CAP_SYS_ADMIN'));
  assert.deepEqual(capabilities({ privileged: true, capDrop: ['ALL'] }), allCapabilities());
});

test('unknown capabilities are refused with Docker message', () => {
  assert.throws(() => validateCapabilities({ capAdd: ['FOO'] }), {
    kind: 'invalid-parameter',
    message: 'invalid CapAdd: unknown capability: "CAP_FOO"',
  });
  assert.throws(() => validateCapabilities({ capDrop: ['cap_foo'] }), {
    message: 'invalid CapDrop: unknown capability: "CAP_FOO"',
  });
  // Docker 20.10 does not know the capabilities newer than CAP_AUDIT_READ either.
  assert.throws(() => validateCapabilities({ capAdd: ['bpf'] }), {
    message: 'invalid CapAdd: unknown capability: "CAP_BPF"',
  });
  validateCapabilities({ capAdd: ['all', 'NET_ADMIN', 'CAP_SYS_PTRACE'], capDrop: ['ALL'] });
});

test('security options: Docker syntax and messages; confinement beyond reach is refused', () => {
  assert.deepEqual(parseSecurityOpts(['no-new-privileges']), { seccomp: 'default', noNewPrivileges: true });
  assert.equal(parseSecurityOpts(['no-new-privileges=true', 'no-new-privileges:false']).noNewPrivileges, false);
  assert.equal(parseSecurityOpts(['seccomp=unconfined']).seccomp, 'unconfined');
  assert.deepEqual(parseSecurityOpts(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']).seccomp, {
    defaultAction: 'SCMP_ACT_ALLOW',
  });
  parseSecurityOpts(['apparmor=unconfined', 'label=disable', 'disable']);
  assert.throws(() => parseSecurityOpts(['bogus']), {
    kind: 'invalid-parameter',
    message: 'invalid --security-opt 1: "bogus"',
  });
  assert.throws(() => parseSecurityOpts(['foo=bar']), { message: 'invalid --security-opt 2: "foo=bar"' });
  assert.throws(() => parseSecurityOpts(['no-new-privileges=maybe']), {
    message: 'invalid --security-opt 2: "no-new-privileges=maybe"',
  });
  assert.throws(() => parseSecurityOpts(['apparmor=docker-default']), /AppArmor is not supported/);
  assert.throws(() => parseSecurityOpts(['label=type:svirt_t']), /SELinux labels are not supported/);
  assert.throws(() => parseSecurityOpts(['seccomp={bad']), /Decoding seccomp profile failed/);

  const prof: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
  };
  assert.ok(confinementOf({}, prof).seccomp);
  assert.equal(confinementOf({ Privileged: true }, prof).seccomp, undefined);
  assert.equal(confinementOf({ SecurityOpt: ['seccomp=unconfined'] }, prof).seccomp, undefined);
  assert.equal(confinementOf({}, undefined).seccomp, undefined);
  assert.equal(
    confinementOf({ SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_LOG"}'] }, prof).seccomp!.defaultAction,
    'SCMP_ACT_LOG',
  );
});

test('runc releases before the November 2025 fixes are flagged', () => {
  for (const v of ['1.1.5+ds1', '1.1.15', '1.2.7', '1.3.2', '1.4.0-rc.2', '1.0.0-rc95'])
    assert.ok(lacksNovember2025Fixes(v), v);
  for (const v of ['1.2.8', '1.2.10', '1.3.3', '1.4.0-rc.3', '1.4.0', '1.5.1', '2.0.0'])
    assert.ok(!lacksNovember2025Fixes(v), v);
  assert.match(runcWarning('1.1.5+ds1')!, /CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881/);
  assert.equal(runcWarning('1.3.3'), undefined);
  assert.equal(runcWarning(undefined), undefined);
});

test('a metrics address other hosts can reach is warned about', () => {
  for (const a of [':9323', '0.0.0.0:9323', '[::]:9323', '192.168.1.4:9323', 'metrics.example:80'])
    assert.ok(metricsAddrWarning(a), a);
  for (const a of ['127.0.0.1:9323', 'localhost:9323', '[::1]:9323', '127.0.0.53:1'])
    assert.equal(metricsAddrWarning(a), undefined, a);
});
