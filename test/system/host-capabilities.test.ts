// /info's cgroup and networking capabilities, read from the hierarchy the host has. The v1
// case is this machine's layout, where dockerd 20.10 answers every capability true,
// CgroupVersion "1", CgroupDriver "cgroupfs", Warnings null (checked against dockerd 20.10).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostCapabilities, type HostPaths } from '../../src/system/host-capabilities.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-hostcaps-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const root = path.join(tmp, name);
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), content);
  }
  fs.mkdirSync(root, { recursive: true });
  return root;
}

function procSys(forward: string, bridge: boolean): string {
  return tree(`proc-${forward}-${bridge}-${Math.random()}`, {
    'net/ipv4/ip_forward': `${forward}\n`,
    ...(bridge ? { 'net/bridge/bridge-nf-call-iptables': '1\n', 'net/bridge/bridge-nf-call-ip6tables': '1\n' } : {}),
  });
}

test('cgroup v1 as this machine has it: every capability, as dockerd reports them', () => {
  const cg = tree('v1', {
    'memory/memory.memsw.limit_in_bytes': '',
    'memory/memory.kmem.limit_in_bytes': '',
    'memory/memory.kmem.tcp.limit_in_bytes': '',
    'memory/memory.oom_control': '',
    'cpu/cpu.cfs_period_us': '',
    'cpu/cpu.cfs_quota_us': '',
    'cpu/cpu.shares': '',
    'cpuset/cpuset.cpus': '',
    'pids/pids.max': '',
  });
  // The lines of this machine's /proc/self/mountinfo, moved under the scratch tree.
  const mi = [
    `31 23 0:28 / ${cg} rw,relatime - tmpfs tmpfs rw,mode=755`,
    `32 31 0:29 / ${cg}/cpu rw,relatime - cgroup cgroup rw,cpu`,
    `34 31 0:31 / ${cg}/cpuset rw,relatime - cgroup cgroup rw,cpuset`,
    `35 31 0:32 / ${cg}/memory rw,relatime - cgroup cgroup rw,memory`,
    `39 31 0:36 / ${cg}/pids rw,relatime - cgroup cgroup rw,pids`,
    `41 31 0:38 / ${cg}/unified rw,relatime - cgroup2 cgroup2 rw`,
  ].join('\n');
  const paths: HostPaths = {
    cgroupRoot: cg,
    mountinfo: path.join(tree('mi1', { m: mi }), 'm'),
    procSys: procSys('1', true),
  };
  assert.deepEqual(hostCapabilities(paths), {
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: true,
    KernelMemoryTCP: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    OomKillDisable: true,
    CgroupVersion: '1',
    warnings: [],
  });
});

test("cgroup v1 without swap accounting, pids or forwarding: false, and dockerd's warnings", () => {
  const cg = tree('v1-lean', { 'memory/memory.oom_control': '', 'cpu/cpu.shares': '' });
  const mi = [
    `35 31 0:32 / ${cg}/memory rw,relatime - cgroup cgroup rw,memory`,
    `32 31 0:29 / ${cg}/cpu\\040x rw,relatime - cgroup cgroup rw,cpu,cpuacct`,
  ].join('\n');
  fs.renameSync(path.join(cg, 'cpu'), path.join(cg, 'cpu x'));
  const caps = hostCapabilities({
    cgroupRoot: cg,
    mountinfo: path.join(tree('mi2', { m: mi }), 'm'),
    procSys: procSys('0', false),
  });
  assert.equal(caps.MemoryLimit, true);
  assert.equal(caps.SwapLimit, false);
  assert.equal(caps.CPUShares, true, 'a mount point with an escaped space is found');
  assert.equal(caps.PidsLimit, false);
  assert.equal(caps.CgroupVersion, '1');
  assert.deepEqual(caps.warnings, [
    'WARNING: No swap limit support',
    'WARNING: No kernel memory TCP limit support',
    'WARNING: No cpu cfs quota support',
    'WARNING: No cpu cfs period support',
    'WARNING: No cpuset support',
    'WARNING: IPv4 forwarding is disabled',
    'WARNING: bridge-nf-call-iptables is disabled',
    'WARNING: bridge-nf-call-ip6tables is disabled',
  ]);
});

test('cgroup v2: the root group’s controllers decide, with no kernel-memory or oom-kill-disable knobs', () => {
  const cg = tree('v2', { 'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n' });
  const caps = hostCapabilities({ cgroupRoot: cg, mountinfo: '/nonexistent', procSys: procSys('1', true) });
  assert.deepEqual(caps, {
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    OomKillDisable: false,
    CgroupVersion: '2',
    warnings: [],
  });
  const lean = hostCapabilities({
    cgroupRoot: tree('v2-lean', { 'cgroup.controllers': 'io\n' }),
    mountinfo: '/nonexistent',
    procSys: procSys('1', true),
  });
  assert.equal(lean.PidsLimit, false);
  assert.deepEqual(lean.warnings, [
    'WARNING: No memory limit support',
    'WARNING: No swap limit support',
    'WARNING: No cpu cfs quota support',
    'WARNING: No cpu cfs period support',
    'WARNING: No cpu shares support',
    'WARNING: No cpuset support',
  ]);
});

test('/info reports the host as it is, and the daemon.json log driver', async () => {
  const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-infocfg-'));
  fs.writeFileSync(path.join(cfgDir, 'daemon.json'), JSON.stringify({ 'log-driver': 'local' }));
  let d: TestDaemon | undefined;
  try {
    d = await startDaemon(['--config-file', path.join(cfgDir, 'daemon.json')]);
    const info = JSON.parse((await d.request('GET', '/v1.41/info')).body) as Record<string, unknown>;
    const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
    assert.equal(info.CgroupVersion, v2 ? '2' : '1');
    assert.equal(info.CgroupDriver, 'cgroupfs');
    assert.equal(info.LoggingDriver, 'local');
    assert.deepEqual((info.Plugins as { Log: string[] }).Log, ['json-file', 'local']);
    if (!v2) {
      assert.equal(info.SwapLimit, fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'));
      assert.equal(info.OomKillDisable, fs.existsSync('/sys/fs/cgroup/memory/memory.oom_control'));
    }
    assert.equal(info.IPv4Forwarding, fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1');
    const { warnings, ...caps } = hostCapabilities();
    for (const [k, v] of Object.entries(caps)) assert.equal(info[k], v, k);
    for (const w of warnings) assert.ok((info.Warnings as string[]).includes(w), w);
  } finally {
    await d?.stop();
    fs.rmSync(cfgDir, { recursive: true, force: true });
  }
});
