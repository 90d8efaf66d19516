// dockerd answers some bad input with a plain Go error, which its API maps to 500: a malformed
// name or tag given to `docker tag` or `docker build -t`. Clients and scripts see that status,
// so those routes turn the image room's InvalidParameter into a server error, message kept.
import { InvalidParameter, SystemError } from '../errors.js';

export function asPlainError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidParameter) throw new SystemError(err.message, { cause: err });
    throw err;
  }
}
