// restic's key files and sealed blobs (design document, "Keys, Encryption and MAC"): AES-256-CTR
// with a Poly1305-AES MAC, user keys derived with scrypt. `restic init` calibrates scrypt to
// ~0.5 s of CPU per repository open, and the daemon opens the repository once per operation:
// that fixed cost alone would make an unchanged-volume backup take a large share of a full one.
// Strata's repositories use LIGHT_KDF instead; the password is the protection that matters.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** scrypt N=2^14, r=8, p=1: ~30 ms here, the interactive-login strength scrypt's paper suggests. */
export const LIGHT_KDF = { N: 1 << 14, r: 8, p: 1 };

export interface KeyFile {
  created: string;
  username: string;
  hostname: string;
  kdf: string;
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

const P1305 = (1n << 130n) - 5n;

function leToBig(buf: Buffer): bigint {
  let n = 0n;
  for (let i = buf.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(buf[i]!);
  return n;
}

function bigToLe16(n: bigint): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Poly1305 (RFC 8439) over `msg` with the one-time key r||s; messages here are a few hundred bytes. */
function poly1305(key: Buffer, msg: Buffer): Buffer {
  const r = leToBig(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = leToBig(key.subarray(16, 32));
  let acc = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const block = Buffer.concat([msg.subarray(i, i + 16), Buffer.from([1])]);
    acc = ((acc + leToBig(block)) * r) % P1305;
  }
  return bigToLe16((acc + s) & ((1n << 128n) - 1n));
}

/** restic's MAC: Poly1305-AES, the pad being AES-128_k(nonce). */
function resticMac(macKey: Buffer, nonce: Buffer, ciphertext: Buffer): Buffer {
  const k = macKey.subarray(0, 16);
  const r = macKey.subarray(16, 32);
  const aes = crypto.createCipheriv('aes-128-ecb', k, null);
  aes.setAutoPadding(false);
  const pad = aes.update(nonce);
  return poly1305(Buffer.concat([r, pad]), ciphertext);
}

export function deriveKeys(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
): { enc: Buffer; mac: Buffer } {
  const out = crypto.scryptSync(password, salt, 64, { N, r, p, maxmem: 256 * N * r * p + (64 << 20) });
  return { enc: out.subarray(0, 32), mac: out.subarray(32, 64) };
}

export function open(keys: { enc: Buffer; mac: Buffer }, sealed: Buffer): Buffer {
  const nonce = sealed.subarray(0, 16);
  const ct = sealed.subarray(16, sealed.length - 16);
  const mac = sealed.subarray(sealed.length - 16);
  if (!crypto.timingSafeEqual(mac, resticMac(keys.mac, nonce, ct))) throw new Error('wrong password or no key found');
  const d = crypto.createDecipheriv('aes-256-ctr', keys.enc, nonce);
  return Buffer.concat([d.update(ct), d.final()]);
}

export function seal(keys: { enc: Buffer; mac: Buffer }, plain: Buffer): Buffer {
  const nonce = crypto.randomBytes(16);
  const c = crypto.createCipheriv('aes-256-ctr', keys.enc, nonce);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, ct, resticMac(keys.mac, nonce, ct)]);
}

/** The master key of the local repository `repo`, unsealed with `password`. */
export function masterKeys(repo: string, password: string): { enc: Buffer; mac: Buffer } {
  for (const name of fs.readdirSync(path.join(repo, 'keys'))) {
    const key = JSON.parse(fs.readFileSync(path.join(repo, 'keys', name), 'utf8')) as KeyFile;
    let plain: Buffer;
    try {
      plain = open(
        deriveKeys(password, Buffer.from(key.salt, 'base64'), key.N, key.r, key.p),
        Buffer.from(key.data, 'base64'),
      );
    } catch {
      continue;
    }
    const m = JSON.parse(plain.toString('utf8')) as { mac: { k: string; r: string }; encrypt: string };
    return {
      enc: Buffer.from(m.encrypt, 'base64'),
      mac: Buffer.concat([Buffer.from(m.mac.k, 'base64'), Buffer.from(m.mac.r, 'base64')]),
    };
  }
  throw new Error('wrong password or no key found');
}
