// A registry's error answer in Docker's words: the spec's `{"errors":[{code,message}]}` body
// printed as `<code description>: <message>` (errcode's format), and the HTTP status mapped to
// an error kind so the API answers with Docker's status.
import { Forbidden, NotFound, StrataError, SystemError, Unauthorized } from '../errors.js';
import { readBody, type HttpResponse } from './http-client.js';

const codeText: Record<string, string> = {
  BLOB_UNKNOWN: 'blob unknown',
  BLOB_UPLOAD_INVALID: 'blob upload invalid',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown',
  DIGEST_INVALID: 'digest invalid',
  MANIFEST_BLOB_UNKNOWN: 'manifest blob unknown',
  MANIFEST_INVALID: 'manifest invalid',
  MANIFEST_UNKNOWN: 'manifest unknown',
  MANIFEST_UNVERIFIED: 'manifest unverified',
  NAME_INVALID: 'name invalid',
  NAME_UNKNOWN: 'name unknown',
  SIZE_INVALID: 'size invalid',
  TAG_INVALID: 'tag invalid',
  UNAUTHORIZED: 'unauthorized',
  DENIED: 'denied',
  UNSUPPORTED: 'unsupported',
  TOOMANYREQUESTS: 'toomanyrequests',
};

/** The `errors` of a registry answer, formatted as Docker prints them; undefined without any. */
export async function registryErrorText(res: HttpResponse): Promise<string | undefined> {
  let body: Buffer;
  try {
    body = await readBody(res, 1 << 20);
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const errs = (j.errors ?? []).map((e) => {
      const code = codeText[e.code ?? ''] ?? (e.code ?? 'unknown').toLowerCase();
      return e.message ? `${code}: ${e.message}` : code;
    });
    return errs.length ? errs.join(', ') : undefined;
  } catch {
    return undefined;
  }
}

/** An error of the kind the status calls for, with `message`. */
export function errorForStatus(status: number, message: string): StrataError {
  if (status === 401) return new Unauthorized(message);
  if (status === 403) return new Forbidden(message);
  if (status === 404) return new NotFound(message);
  return new SystemError(message);
}

/** The registry's own words for a failed request, else the status. */
export async function unexpected(res: HttpResponse, what: string): Promise<StrataError> {
  const text = await registryErrorText(res);
  return errorForStatus(res.status, `${what}: ${text ?? `unexpected status ${res.status}`}`);
}
