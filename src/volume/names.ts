// Volume names as Docker's local driver checks them (daemon/volume/local/local.go). Only the
// local driver validates: a plugin may accept any name it likes.
import { randomBytes } from 'node:crypto';
import { InvalidParameter } from '../errors.js';

const validName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Throws Docker's InvalidParameter for a name the local driver refuses. */
export function validateLocalVolumeName(name: string): void {
  if (name.length === 1) {
    throw new InvalidParameter('volume name is too short, names should be at least two alphanumeric characters');
  }
  if (!validName.test(name)) {
    throw new InvalidParameter(
      `${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** stringid.GenerateRandomID: 64 hex characters, never all digits (so it cannot pass for a number). */
export function generateVolumeName(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}
