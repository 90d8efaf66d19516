// A network's bridge left on the host without its firewall chains (a crash between netavark
// making the bridge and its rules, a host firewall reload) makes netavark's teardown fail on the
// first rule it cannot find. `docker network rm` and the startup sweep still remove the bridge
// (and whatever chain is left, and netavark's rules for its subnet in the shared filter chain)
// and the network's row, and report no failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { chainHash } from '../../src/network/leftovers.js';

const links = () =>
  spawnSync('ip', ['-br', 'link'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(/\s+/)[0]!.split('@')[0]!)
    .filter(Boolean);
const natRules = () => spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
/** Every rule of the filter and nat tables, as iptables lists them. */
const allRules = () =>
  ['filter', 'nat'].map((t) => spawnSync('iptables', ['-w', '-t', t, '-S'], { encoding: 'utf8' }).stdout).join('');
const hasChain = (table: string, chain: string) =>
  spawnSync('iptables', ['-w', '-t', table, '-S', chain], { encoding: 'utf8' }).status === 0;
const sh = (cmd: string, ...args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
};

/** A network as a crash half way through its first setup leaves it: its bridge, up, and no rule. */
function loneBridge(d: TestDaemon, name: string): { id: string; bridge: string } {
  ok(d.docker(['network', 'create', name]), 'network create');
  const id = ok(d.docker(['network', 'inspect', '-f', '{{.Id}}', name]), 'inspect').trim();
  const bridge = `br-${id.slice(0, 12)}`;
  sh('ip', 'link', 'add', bridge, 'type', 'bridge');
  sh('ip', 'link', 'set', bridge, 'up');
  return { id, bridge };
}

test('a bridge whose chains are gone: network rm and the startup sweep remove it and its rows, and fail nothing', async () => {
  const made: { id: string; bridge: string }[] = [];
  let first: TestDaemon | undefined;
  let second: TestDaemon | undefined;
  try {
    first = await startDaemon();
    const d1 = first;

    // docker network rm: the bridge goes with the row (it stayed, and nothing could find it again).
    const a = loneBridge(d1, 'lone-a');
    made.push(a);
    assert.ok(links().includes(a.bridge));
    ok(d1.docker(['network', 'rm', 'lone-a']), 'network rm');
    assert.ok(!links().includes(a.bridge), 'network rm removed the lone bridge');
    assert.equal(d1.docker(['network', 'inspect', 'lone-a']).status, 1, 'and the row');

    // One whose nat chain survived without the rule jumping to it: rm removes both.
    const b = loneBridge(d1, 'lone-b');
    made.push(b);
    const chain = `NETAVARK-${chainHash(b.id)}`;
    sh('iptables', '-w', '-t', 'nat', '-N', chain);
    sh('iptables', '-w', '-t', 'nat', '-A', chain, '-j', 'ACCEPT');
    ok(d1.docker(['network', 'rm', 'lone-b']), 'network rm');
    assert.ok(!links().includes(b.bridge), 'its bridge is gone');
    assert.doesNotMatch(natRules(), new RegExp(chain), 'and its chain');

    // The startup sweep, for a network whose row stays: the bridge goes and nothing is reported failed.
    const c = loneBridge(d1, 'lone-c');
    made.push(c);
    d1.expectExit();
    d1.proc.kill('SIGTERM');
    await new Promise((r) => d1.proc.once('exit', r));
    second = await startDaemon(['--data-root', d1.dataRoot, '--exec-root', path.join(d1.dir, 'exec')]);
    assert.ok(!links().includes(c.bridge), 'the startup sweep removed the lone bridge');
    const log = second.log();
    assert.match(log, new RegExp(`network recovery: removed bridge ${c.bridge}`));
    assert.doesNotMatch(log, /WARN network recovery/, 'and reported no failure');
    ok(second.docker(['network', 'rm', 'lone-c']), 'network rm after the sweep');
  } finally {
    // Whatever a failed assertion left: the bridges and chains this test made.
    for (const m of made) {
      if (links().includes(m.bridge)) spawnSync('ip', ['link', 'delete', m.bridge]);
      const chain = `NETAVARK-${chainHash(m.id)}`;
      if (natRules().includes(chain)) {
        spawnSync('iptables', ['-w', '-t', 'nat', '-F', chain]);
        spawnSync('iptables', ['-w', '-t', 'nat', '-X', chain]);
      }
    }
    await second?.stop();
    await first?.stop();
  }
});

test("a network whose teardown fails before netavark's rules: network rm removes the rules naming its subnet, and no other", async () => {
  // netavark refuses the firewall driver this asks for before it changes anything: its teardown
  // of the network fails with every rule in place, as one that fails early on the host would.
  const before = process.env.NETAVARK_FW;
  process.env.NETAVARK_FW = 'nftables';
  let d: TestDaemon | undefined;
  let made: { id: string; bridge: string } | undefined;
  const added: string[][] = [];
  let madeChain = false;
  try {
    d = await startDaemon();
    if (before === undefined) delete process.env.NETAVARK_FW;
    else process.env.NETAVARK_FW = before;
    made = loneBridge(d, 'lone-e');
    const subnet = ok(
      d.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'lone-e']),
      'inspect',
    ).trim();
    // The rules netavark makes for a network in the filter table's shared NETAVARK_FORWARD
    // (named by the subnet, not the network), and one of another subnet, which must stay.
    if (!hasChain('filter', 'NETAVARK_FORWARD')) {
      sh('iptables', '-w', '-t', 'filter', '-N', 'NETAVARK_FORWARD');
      madeChain = true;
    }
    const other = ['-s', '10.254.254.0/24', '-j', 'ACCEPT'];
    for (const r of [
      ['-d', subnet, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
      ['-s', subnet, '-j', 'ACCEPT'],
      other,
    ]) {
      sh('iptables', '-w', '-t', 'filter', '-A', 'NETAVARK_FORWARD', ...r);
      added.push(r);
    }
    const naming = new RegExp(` ${subnet.replace(/[./]/g, '\\$&')} `);
    assert.match(allRules(), naming);
    ok(d.docker(['network', 'rm', 'lone-e']), 'network rm');
    assert.ok(!links().includes(made.bridge), 'its bridge is gone');
    assert.doesNotMatch(allRules(), naming, 'a rule naming its subnet is left');
    assert.match(allRules(), /-A NETAVARK_FORWARD -s 10\.254\.254\.0\/24 -j ACCEPT/, "another subnet's rule went too");
    assert.equal(d.docker(['network', 'inspect', 'lone-e']).status, 1, 'and the row');
  } finally {
    if (before === undefined) delete process.env.NETAVARK_FW;
    else process.env.NETAVARK_FW = before;
    // What a failed assertion left: the bridge, the rules this test added (those rm removed
    // fail to delete, quietly), and the chain if this test made it and nothing uses it now.
    if (made && links().includes(made.bridge)) spawnSync('ip', ['link', 'delete', made.bridge]);
    for (const r of added) spawnSync('iptables', ['-w', '-t', 'filter', '-D', 'NETAVARK_FORWARD', ...r]);
    if (madeChain) spawnSync('iptables', ['-w', '-t', 'filter', '-X', 'NETAVARK_FORWARD']);
    await d?.stop();
  }
});
