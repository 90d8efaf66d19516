/** A build step failed: its message ends the build (`code` is a failing RUN's exit code). */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}
