// Typed errors, mapped to HTTP in one place (api/server.ts) as moby's httpstatus does.
// Messages follow Docker's words where users grep for them.

export class StrataError extends Error {
  readonly status: number = 500;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidParameter extends StrataError {
  override readonly status = 400;
}
/** The registry refused the credentials (or none were given): Docker's errdefs.Unauthorized. */
export class Unauthorized extends StrataError {
  override readonly status = 401;
}
export class Forbidden extends StrataError {
  override readonly status = 403;
}
export class NotFound extends StrataError {
  override readonly status = 404;
}
export class Conflict extends StrataError {
  override readonly status = 409;
}
export class NotModified extends StrataError {
  override readonly status = 304;
}
export class NotImplemented extends StrataError {
  override readonly status = 501;
}
export class Unavailable extends StrataError {
  override readonly status = 503;
}
/** Anything Strata did not expect; 500. */
export class SystemError extends StrataError {}

export function httpStatusOf(err: unknown): number {
  return err instanceof StrataError ? err.status : 500;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
