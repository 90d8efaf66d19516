// Creates a local restic repository (format 2) directly: `restic init` spends ~3 s of CPU
// calibrating its key derivation, which would dominate the first backup of a small volume.
// The layout and encryption follow restic's design document: a random master key sealed in
// keys/<sha256> under scrypt (LIGHT_KDF), and `config` (version, id, a random irreducible
// chunker polynomial) sealed with the master key. restic opens, checks and extends the result.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deriveKeys, LIGHT_KDF, seal, type KeyFile } from './restic-key.js';

// Polynomials over GF(2) of degree ≤ 64, as bigints.
function deg(x: bigint): number {
  return x === 0n ? -1 : x.toString(2).length - 1;
}

function mod(x: bigint, m: bigint): bigint {
  const dm = deg(m);
  for (let d = deg(x); d >= dm; d = deg(x)) x ^= m << BigInt(d - dm);
  return x;
}

function mulMod(a: bigint, b: bigint, m: bigint): bigint {
  let res = 0n;
  a = mod(a, m);
  while (b > 0n) {
    if (b & 1n) res ^= a;
    a = mod(a << 1n, m);
    b >>= 1n;
  }
  return res;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, mod(a, b)];
  return a;
}

/** Ben-Or: irreducible iff gcd(x^(2^i) - x mod f, f) = 1 for i = 1..deg/2. */
export function irreducible(f: bigint): boolean {
  let xp = 2n; // x
  for (let i = 1; i <= deg(f) / 2; i++) {
    xp = mulMod(xp, xp, f);
    if (gcd(mod(xp ^ 2n, f), f) !== 1n) return false;
  }
  return true;
}

/** A random irreducible polynomial of degree 53, as restic's chunker expects. */
export function randomPolynomial(): bigint {
  for (;;) {
    let f = crypto.randomBytes(8).readBigUInt64LE() & ((1n << 54n) - 1n);
    f |= (1n << 53n) | 1n;
    if (irreducible(f)) return f;
  }
}

function writeDurable(file: string, data: Buffer, mode: number): void {
  const fd = fs.openSync(file, 'wx', mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Initialises an empty directory as a restic repository protected by `password`. */
export function initRepository(dir: string, password: string): void {
  const master = {
    mac: { k: crypto.randomBytes(16).toString('base64'), r: crypto.randomBytes(16).toString('base64') },
    encrypt: crypto.randomBytes(32).toString('base64'),
  };
  const masterKeys = {
    enc: Buffer.from(master.encrypt, 'base64'),
    mac: Buffer.concat([Buffer.from(master.mac.k, 'base64'), Buffer.from(master.mac.r, 'base64')]),
  };
  const salt = crypto.randomBytes(64);
  const user = deriveKeys(password, salt, LIGHT_KDF.N, LIGHT_KDF.r, LIGHT_KDF.p);
  const key: KeyFile = {
    created: new Date().toISOString(),
    username: os.userInfo().username,
    hostname: os.hostname(),
    kdf: 'scrypt',
    ...LIGHT_KDF,
    salt: salt.toString('base64'),
    data: seal(user, Buffer.from(JSON.stringify(master))).toString('base64'),
  };
  const config = {
    version: 2,
    id: crypto.randomBytes(32).toString('hex'),
    chunker_polynomial: randomPolynomial().toString(16),
  };

  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const d of ['keys', 'locks', 'snapshots', 'index', 'data']) fs.mkdirSync(path.join(dir, d), { mode: 0o700 });
  for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(dir, 'data', i.toString(16).padStart(2, '0')), { mode: 0o700 });
  const keyBody = Buffer.from(JSON.stringify(key));
  writeDurable(path.join(dir, 'keys', crypto.createHash('sha256').update(keyBody).digest('hex')), keyBody, 0o400);
  // Last: a directory without `config` is not a repository yet, so a crash leaves nothing half-made.
  writeDurable(path.join(dir, 'config'), seal(masterKeys, Buffer.from(JSON.stringify(config))), 0o400);
}
