// The predefined `bridge` network, made at the first start: a private subnet the host does not
// route yet, and the options dockerd shows on its default bridge.
import { randomBytes } from 'node:crypto';
import { nowIso } from './create.js';
import { cidrString, intToIp, parseCidr, pickSubnet } from './ipam.js';
import type { NetworkStore } from './store.js';

export function ensureDefaultBridge(store: NetworkStore): void {
  const bridgeId = randomBytes(32).toString('hex');
  if (!store.byName('bridge')) {
    // Every pool routed already: start anyway; the subnet is chosen again when a container needs it.
    let subnet = parseCidr('172.17.0.0/16');
    try {
      subnet = pickSubnet(
        store
          .all()
          .filter((n) => n.Subnet)
          .map((n) => parseCidr(n.Subnet!)),
      );
    } catch {
      /* see above */
    }
    const bridge = `br-${bridgeId.slice(0, 12)}`;
    store.save({
      Id: bridgeId,
      Name: 'bridge',
      Driver: 'bridge',
      Created: nowIso(),
      Internal: false,
      Attachable: false,
      Labels: {},
      Options: {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        'com.docker.network.bridge.name': bridge,
        'com.docker.network.driver.mtu': '1500',
      },
      Subnet: cidrString(subnet),
      Gateway: intToIp(subnet.base + 1),
      userSubnet: false,
      bridge,
      dns: false,
      builtin: true,
    });
  }
}
