// /_ping: the first request of every docker CLI command (version negotiation, builder and OS
// type). Apart from the system routes because it reads nothing of the engine, so any router —
// the daemon's or one serving a single resource's routes — can answer it.
import type { Router } from './router.js';
import { API_VERSION } from './version.js';

const pingHeaders = (): Record<string, string> => ({
  'API-Version': API_VERSION,
  'Builder-Version': '1',
  'Docker-Experimental': 'false',
  OSType: 'linux',
  Swarm: 'inactive',
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  Pragma: 'no-cache',
});

export function registerPingRoute<E>(router: Router<E>): void {
  router.get('/_ping', ({ req, res }) => {
    const body = req.method === 'HEAD' ? '' : 'OK';
    res!.writeHead(200, { ...pingHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
    res!.end(body);
  });
}
