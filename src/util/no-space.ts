// A full disk is the server's problem, not the request's: ENOSPC becomes a SystemError (500)
// that names the file being written, and each operation puts its own name in front
// (`commit: no space left on device writing layer <path>`). Node's own ENOSPC message
// (`ENOSPC: no space left on device, write`) says neither what nor where.
import { SystemError } from '../errors.js';

export class NoSpaceError extends SystemError {
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`no space left on device writing ${path}`);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** ENOSPC from Node's fs, from a native call (errno in the message), or EDQUOT (a quota is full). */
export function isNoSpace(err: unknown): boolean {
  if (err instanceof NoSpaceError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return err instanceof Error && /\bENOSPC\b|no space left on device/i.test(err.message);
}

/** `err` as a NoSpaceError naming `path` when it is a full disk (the first path named wins); otherwise `err`. */
export function noSpaceAt(err: unknown, path: string): unknown {
  if (err instanceof NoSpaceError || !isNoSpace(err)) return err;
  return new NoSpaceError(path, { cause: err });
}

/**
 * The error an operation reports: a full disk as `<operation>: no space left on device writing
 * [what ]<path>`; anything else unchanged.
 */
export function inOperation(operation: string, err: unknown, what = '', fallbackPath = ''): unknown {
  if (!isNoSpace(err)) return err;
  const path = err instanceof NoSpaceError ? err.path : ((err as { path?: string }).path ?? fallbackPath);
  const out = new SystemError(
    `${operation}: no space left on device${path ? ` writing ${what ? `${what} ` : ''}${path}` : ''}`,
  );
  (out as { cause?: unknown }).cause = err;
  return out;
}
