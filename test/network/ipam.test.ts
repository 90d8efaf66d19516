// The address arithmetic under the network room, and the port requests parsed from a
// container's HostConfig: pure functions, no kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateAddress, cidrString, macOf, overlaps, parseCidr, pickSubnet } from '../../src/network/ipam.js';
import { parsePorts } from '../../src/container/published-ports.js';

test("CIDR parsing, overlap, and Docker's errors for bad input", () => {
  assert.equal(cidrString(parseCidr('10.1.2.3/24')), '10.1.2.0/24');
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.9.0.0/16')));
  assert.ok(!overlaps(parseCidr('10.0.0.0/24'), parseCidr('10.0.1.0/24')));
  assert.throws(() => parseCidr('10.0.0.0/33'), /invalid CIDR address: 10.0.0.0\/33/);
  assert.throws(() => parseCidr('300.0.0.0/8'), /invalid CIDR address/);
  assert.throws(() => parseCidr('fd00::/64'), /IPv6 is not supported/);
});

test('addresses: first free after the gateway, inside an ip-range, a requested one checked', () => {
  const s = parseCidr('10.5.0.0/29');
  assert.equal(allocateAddress(s, '10.5.0.1', new Set()), '10.5.0.2');
  assert.equal(allocateAddress(s, '10.5.0.1', new Set(['10.5.0.2', '10.5.0.3'])), '10.5.0.4');
  assert.equal(allocateAddress(s, '10.5.0.1', new Set(), parseCidr('10.5.0.4/30')), '10.5.0.4');
  assert.throws(
    () => allocateAddress(s, '10.5.0.1', new Set(['10.5.0.2', '10.5.0.3', '10.5.0.4', '10.5.0.5', '10.5.0.6'])),
    /no available IPv4 addresses/,
  );
  assert.equal(allocateAddress(s, '10.5.0.1', new Set(), undefined, '10.5.0.6'), '10.5.0.6');
  assert.throws(
    () => allocateAddress(s, '10.5.0.1', new Set(['10.5.0.6']), undefined, '10.5.0.6'),
    /Address already in use/,
  );
  assert.throws(
    () => allocateAddress(s, '10.5.0.1', new Set(), undefined, '10.5.0.7'),
    /not in 10.5.0.0\/29/,
    'the broadcast address',
  );
  assert.equal(macOf('172.18.0.2'), '02:42:ac:12:00:02');
});

test('a network without a subnet skips the ones other networks hold', () => {
  const first = pickSubnet([]);
  const second = pickSubnet([first]);
  assert.ok(!overlaps(first, second));
  assert.match(cidrString(second), /^(172\.(1[7-9]|2\d|3[01])\.0\.0\/16|192\.168\.\d+\.0\/20)$/);
});

test('published ports from PortBindings and PublishAllPorts; bad ones refused', () => {
  const ports = parsePorts(
    { ExposedPorts: { '80/tcp': {}, '53/udp': {} } },
    {
      PortBindings: {
        '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
        '9000/udp': [{ HostIp: '', HostPort: '9000-9005' }],
      },
      PublishAllPorts: true,
    },
  );
  assert.deepEqual(ports, [
    { host_ip: '127.0.0.1', host_port: 8080, container_port: 80, protocol: 'tcp', range: 1 },
    { host_ip: '', host_port: 9000, container_port: 9000, protocol: 'udp', range: 1, hostEnd: 9005 },
    { host_ip: '', host_port: 0, container_port: 53, protocol: 'udp', range: 1 },
  ]);
  assert.throws(() => parsePorts({}, { PortBindings: { '80/sctp': [{}] } }), /protocol sctp is not supported/);
  assert.throws(
    () => parsePorts({}, { PortBindings: { '80/tcp': [{ HostIp: '::1', HostPort: '80' }] } }),
    /IPv6 host addresses are not supported/,
  );
  assert.throws(
    () => parsePorts({}, { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } }),
    /invalid port specification/,
  );
});
