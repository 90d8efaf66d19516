// The one table from error kinds to HTTP statuses (moby's httpstatus), and the one shape of an
// error inside a JSON progress stream once the 200 head has gone out.
import { kindOf, messageOf, type ErrorKind } from '../errors.js';

const STATUS: Record<ErrorKind, number> = {
  'invalid-parameter': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  'not-implemented': 501,
  unavailable: 503,
  system: 500,
};

export function httpStatusOf(err: unknown): number {
  return STATUS[kindOf(err)];
}

/** `{"errorDetail": {"message": …}, "error": …}`: how load, build, pull and backups end a stream that failed. */
export function streamError(err: unknown): { errorDetail: { message: string; code?: number }; error: string } {
  const message = messageOf(err);
  return { errorDetail: { message }, error: message };
}
