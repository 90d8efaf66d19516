// A network's bridge left on the host without its firewall chains (a crash between netavark
// making the bridge and its rules, a host firewall reload) makes netavark's teardown fail on the
// first rule it cannot find. `docker network rm` and the startup sweep still remove the bridge
// (and whatever chain is left) and the network's row, and report no failure.
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
