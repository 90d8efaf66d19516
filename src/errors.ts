// Error kinds, as moby's errdefs: a room says what kind of failure happened (not found, conflict,
// invalid parameter…) and keeps the cause; only api/ maps a kind to an HTTP status
// (api/error-status.ts). Messages follow Docker's words where users grep for them.

export type ErrorKind =
  | 'invalid-parameter'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'not-modified'
  | 'not-implemented'
  | 'unavailable'
  | 'system';

export class StrataError extends Error {
  readonly kind: ErrorKind = 'system';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidParameter extends StrataError {
  override readonly kind = 'invalid-parameter';
}
/** The registry refused the credentials (or none were given): Docker's errdefs.Unauthorized. */
export class Unauthorized extends StrataError {
  override readonly kind = 'unauthorized';
}
export class Forbidden extends StrataError {
  override readonly kind = 'forbidden';
}
export class NotFound extends StrataError {
  override readonly kind = 'not-found';
}
export class Conflict extends StrataError {
  override readonly kind = 'conflict';
}
export class NotModified extends StrataError {
  override readonly kind = 'not-modified';
}
export class NotImplemented extends StrataError {
  override readonly kind = 'not-implemented';
}
export class Unavailable extends StrataError {
  override readonly kind = 'unavailable';
}
/** Anything Strata did not expect. */
export class SystemError extends StrataError {}

/** The kind of any thrown value: a StrataError's own, else 'system'. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof StrataError ? err.kind : 'system';
}

export function isNotFound(err: unknown): boolean {
  return kindOf(err) === 'not-found';
}

/** The same kind of error with `op` in front of the message, the original kept as cause. */
export function withContext(prefix: string, err: unknown): StrataError {
  const message = `${prefix}: ${messageOf(err)}`;
  if (err instanceof StrataError) {
    const Ctor = err.constructor as new (m: string, o?: { cause?: unknown }) => StrataError;
    return new Ctor(message, { cause: err });
  }
  return new SystemError(message, { cause: err });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
