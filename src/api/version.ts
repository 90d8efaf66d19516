// API version negotiation as dockerd does it: the CLI reads API-Version from /_ping and
// then prefixes every path with /v<version>/.
import { InvalidParameter } from '../errors.js';
import { compareVersions } from '../util/api-version.js';

export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

export { compareVersions, versionAtLeast } from '../util/api-version.js';

/** Splits `/v1.41/containers/json` into the version and the bare path; checks the range. */
export function splitVersion(path: string): { version: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  if (!m) return { version: API_VERSION, path };
  const version = m[1]!;
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new InvalidParameter(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidParameter(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return { version, path: m[2]! };
}
