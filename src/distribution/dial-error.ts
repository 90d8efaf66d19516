// A registry that cannot be reached, in the words of Go's net package as dockerd prints them
// (`dial tcp 127.0.0.1:1: connect: connection refused`): scripts and test suites grep for
// these, and Node's own (`connect ECONNREFUSED 127.0.0.1:1`) say the same thing differently.
import dns from 'node:dns';

type NetError = NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };

const CONNECT_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
};

/** Go's text for a failed dial, or Node's message when it is no dial failure Go names. */
export function dialErrorText(err: unknown): string {
  const e = err as NetError;
  const words = e?.code ? CONNECT_WORDS[e.code] : undefined;
  if (words && e.syscall === 'connect' && e.address) {
    const host = e.address.includes(':') ? `[${e.address}]` : e.address;
    return `dial tcp ${host}:${e.port}: connect: ${words}`;
  }
  if (e?.code === 'ENOTFOUND' && e.hostname) {
    // Go's resolver names the server it asked; Node asked the same ones, from resolv.conf.
    const server = dns.getServers()[0];
    const on = server ? ` on ${server.includes(':') && !server.startsWith('[') ? `[${server}]` : server}:53` : '';
    return `dial tcp: lookup ${e.hostname}${on}: no such host`;
  }
  return (err as Error)?.message ?? String(err);
}
