// --add-host entries ("name:address", or "name:host-gateway"), checked as dockerd checks them
// when it builds the container's network sandbox at start: `docker run` and the build's RUN
// containers alike fail on a bad one, with its words.
import net from 'node:net';
import { InvalidParameter } from '../errors.js';

export function validateExtraHosts(hosts: readonly string[]): void {
  for (const h of hosts) {
    // Split on the first ':' only, so an IPv6 address keeps its colons.
    const i = h.indexOf(':');
    if (i <= 0) throw new InvalidParameter(`bad format for add-host: ${JSON.stringify(h)}`);
    const address = h.slice(i + 1);
    if (address !== 'host-gateway' && net.isIP(address.trim()) === 0)
      throw new InvalidParameter(`invalid IP address in add-host: ${JSON.stringify(address)}`);
  }
}
