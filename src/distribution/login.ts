// docker login: the credentials are checked against the registry's /v2/ endpoint (Basic, or a
// Bearer token fetched with them); nothing is stored by the daemon, the CLI keeps them.
import { InvalidParameter, Unauthorized } from '../errors.js';
import { basic, bearerToken, parseChallenges, type AuthConfig } from './auth.js';
import { endpointsFor, registryOfServerAddress, repositoryOf, type RegistryOptions } from './endpoint.js';
import { discard } from './http-client.js';
import { RegistrySession } from './session.js';

export async function login(registry: RegistryOptions, creds: AuthConfig): Promise<{ IdentityToken: string; Status: string }> {
  if (!creds.username && !creds.identitytoken) throw new InvalidParameter('Error: Username is required');
  const host = registryOfServerAddress(creds.serveraddress ?? '');
  const eps = endpointsFor(host, registry).filter((e) => !e.mirror);
  const ep = eps[eps.length - 1]!;
  // Anonymous first, to learn the challenge (and whether plain HTTP is what this host speaks).
  const session = new RegistrySession(ep, repositoryOf(`${host}/_`), {}, []);
  const first = await session.request('/v2/');
  discard(first);
  const url = session.url('/v2/').toString();
  const refused = () => new Unauthorized(`login attempt to ${url} failed with status: 401 Unauthorized`);
  if (first.status === 200) return { IdentityToken: '', Status: 'Login Succeeded' };
  if (first.status !== 401) throw new Unauthorized(`login attempt to ${url} failed with status: ${first.status}`);
  const ch = parseChallenges(first.headers['www-authenticate']).find((c) => c.scheme === 'basic' || c.scheme === 'bearer');
  if (!ch) throw refused();
  if (ch.scheme === 'bearer') {
    try {
      await bearerToken(ch, [], creds, ep);
    } catch (err) {
      if (err instanceof Unauthorized) throw refused();
      throw err;
    }
    return { IdentityToken: '', Status: 'Login Succeeded' };
  }
  const checked = await new RegistrySession(ep, repositoryOf(`${host}/_`), creds, []).request(session.url('/v2/'), { headers: { Authorization: basic(creds) } });
  discard(checked);
  if (checked.status !== 200) throw refused();
  return { IdentityToken: '', Status: 'Login Succeeded' };
}
