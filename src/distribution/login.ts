// docker login: the credentials are checked against the registry's /v2/ endpoint (Basic, or a
// Bearer token fetched with them); nothing is stored by the daemon, the CLI keeps them.
import { STATUS_CODES } from 'node:http';
import { InvalidParameter, SystemError, Unauthorized } from '../errors.js';
import type { AuthConfig } from './auth.js';
import { endpointsFor, registryOfServerAddress, repositoryOf, type RegistryOptions } from './endpoint.js';
import { discard } from './http-client.js';
import { RegistrySession } from './session.js';

export async function login(
  registry: RegistryOptions,
  creds: AuthConfig,
): Promise<{ IdentityToken: string; Status: string }> {
  if (!creds.username && !creds.identitytoken) throw new InvalidParameter('Error: Username is required');
  const host = registryOfServerAddress(creds.serveraddress ?? '');
  const eps = endpointsFor(host, registry).filter((e) => !e.mirror);
  const ep = eps[eps.length - 1]!;
  const session = new RegistrySession(ep, repositoryOf(`${host}/_`), creds, []);
  // dockerd 20.10 answers a refusal with a plain error (a 500), not errdefs.Unauthorized.
  const refused = () =>
    new SystemError(`login attempt to ${session.url('/v2/').toString()} failed with status: 401 Unauthorized`);
  let res;
  try {
    // The session meets the challenge (Basic, or a Bearer token fetched with the credentials).
    res = await session.request('/v2/');
  } catch (err) {
    if (err instanceof Unauthorized) throw refused();
    throw err;
  }
  discard(res);
  if (res.status === 200) return { IdentityToken: '', Status: 'Login Succeeded' };
  if (res.status === 401) throw refused();
  throw new SystemError(
    `login attempt to ${session.url('/v2/').toString()} failed with status: ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd(),
  );
}
