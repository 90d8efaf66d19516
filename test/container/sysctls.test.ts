// --domainname and --sysctl, each checked against dockerd 20.10 on the same busybox image: the NIS
// domain name set in the container's UTS namespace, the sysctls dockerd sets in a network
// namespace of the container's own (and not in the host's), the user's winning over them, and
// runc's refusals of sysctls outside the container's namespaces in dockerd's words.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:sysctl'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const run = (args: string[], script: string) => d.docker(['run', '--rm', ...args, 'bb:sysctl', 'sh', '-c', script]);
const SHOW =
  'cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_unprivileged_port_start';

test('--domainname sets the UTS domain name; an own network namespace gets ping and low ports for all', () => {
  // dockerd 20.10 on its default network: example.com, "0\t2147483647", 0, and `hostname -d` finds
  // the domain through /etc/hosts; "(none)" without --domainname.
  const r = run(['--domainname', 'example.com'], `${SHOW}; hostname -d`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['example.com', '0\t2147483647', '0', 'example.com']);
  const plain = run(['--network', 'none'], 'cat /proc/sys/kernel/domainname');
  assert.equal(plain.stdout.trim(), '(none)');
});

test("the host's network namespace is left as it is; the user's sysctls win", () => {
  const host = fs.readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8');
  const hostPorts = fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8');
  // dockerd 20.10 with --network host: the host's values (here "1\t0" and 1024), domain name still set.
  const r = run(['--domainname', 'example.com', '--network', 'host'], SHOW);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').slice(0, 3), ['example.com', host.trim(), hostPorts.trim()]);
  assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8'), host);
  // dockerd 20.10: "5\t6", 2000 and the shm limit asked for.
  const own = run(
    [
      '--network',
      'none',
      '--sysctl',
      'net.ipv4.ping_group_range=5 6',
      '--sysctl',
      'net.ipv4.ip_unprivileged_port_start=2000',
      '--sysctl',
      'kernel.shmmax=1000000',
    ],
    'cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax',
  );
  assert.equal(own.status, 0, own.stderr);
  assert.deepEqual(own.stdout.trim().split('\n'), ['5\t6', '2000', '1000000']);
});

test("sysctls outside the container's namespaces are refused at start in dockerd's words", async () => {
  // dockerd 20.10 creates each (201) and answers start with 500 and these messages.
  const cases: [Record<string, unknown>, string][] = [
    [{ Sysctls: { 'vm.swappiness': '1' } }, 'sysctl "vm.swappiness" is not in a separate kernel namespace'],
    [
      { Sysctls: { 'kernel.hostname': 'x' } },
      'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field',
    ],
    [
      { NetworkMode: 'host', Sysctls: { 'net.core.somaxconn': '1024' } },
      'sysctl "net.core.somaxconn" not allowed in host network namespace',
    ],
    [
      { IpcMode: 'host', Sysctls: { 'kernel.shmmax': '1000000' } },
      'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace',
    ],
  ];
  for (const [hostConfig, words] of cases) {
    const c = await d.request('POST', '/v1.41/containers/create', {
      Image: 'bb:sysctl',
      Cmd: ['true'],
      HostConfig: hostConfig,
    });
    assert.equal(c.status, 201, c.body);
    const id = JSON.parse(c.body).Id as string;
    const st = await d.request('POST', `/v1.41/containers/${id}/start`);
    assert.equal(st.status, 500, st.body);
    assert.equal(
      JSON.parse(st.body).message,
      `failed to create shim task: OCI runtime create failed: runc create failed: ${words}: unknown`,
    );
    assert.equal(d.docker(['rm', id]).status, 0);
  }
});
