// Reads a local restic repository (format 1 or 2) directly: index, snapshots, trees and data
// blobs, each checked against its SHA-256 ID (the name of a stored file is the hash of its
// bytes; a blob's ID is the hash of its plaintext), so a damaged or tampered pack is an error,
// as it is for restic. Used by the restorer (restorer.ts); restic stays the writer.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { decompress } from 'zstd-napi';
import { masterKeys } from './restic-key.js';

export class DamagedRepository extends Error {}

interface BlobLocation {
  pack: string;
  offset: number;
  length: number;
  /** Present when the blob is stored zstd-compressed. */
  uncompressedLength?: number;
}

export interface TreeNode {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | string;
  mode?: number;
  mtime?: string;
  atime?: string;
  uid?: number;
  gid?: number;
  inode?: number;
  device_id?: number;
  size?: number;
  links?: number;
  linktarget?: string;
  linktarget_raw?: string;
  content?: string[] | null;
  subtree?: string;
  extended_attributes?: { name: string; value: string }[] | null;
}

function sha256(b: Uint8Array): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

export class RepositoryReader {
  private readonly keys: { enc: Buffer; mac: Buffer };
  private readonly blobs = new Map<string, BlobLocation>();
  private readonly fds = new Map<string, number>();

  constructor(
    private readonly dir: string,
    password: string,
  ) {
    this.keys = masterKeys(dir, password);
    for (const name of fs.readdirSync(path.join(dir, 'index'))) {
      const idx = JSON.parse(this.unpacked('index', name).toString('utf8')) as {
        packs: { id: string; blobs: { id: string; offset: number; length: number; uncompressed_length?: number }[] }[];
      };
      for (const p of idx.packs) {
        for (const b of p.blobs) {
          this.blobs.set(b.id, {
            pack: p.id,
            offset: b.offset,
            length: b.length,
            uncompressedLength: b.uncompressed_length,
          });
        }
      }
    }
  }

  /** AES-256-CTR without the MAC check: integrity comes from the SHA-256 IDs, which are cheaper to check in bulk. */
  private decrypt(sealed: Buffer): Buffer {
    if (sealed.length < 32) throw new DamagedRepository('ciphertext too short');
    const d = crypto.createDecipheriv('aes-256-ctr', this.keys.enc, sealed.subarray(0, 16));
    return Buffer.concat([d.update(sealed.subarray(16, sealed.length - 16)), d.final()]);
  }

  /** A whole-file object (index, snapshot): version byte 2 + zstd in format 2, or plain JSON. */
  private unpacked(kind: string, id: string): Buffer {
    const raw = fs.readFileSync(path.join(this.dir, kind, id));
    if (sha256(raw) !== id) throw new DamagedRepository(`${kind}/${id} does not match its ID`);
    const plain = this.decrypt(raw);
    if (plain[0] === 0x7b || plain[0] === 0x5b) return plain;
    if (plain[0] === 2) return decompress(plain.subarray(1));
    throw new DamagedRepository(`${kind}/${id}: unknown encoding ${plain[0]}`);
  }

  snapshot(id: string): { tree: string } {
    return JSON.parse(this.unpacked('snapshots', id).toString('utf8')) as { tree: string };
  }

  blob(id: string): Buffer {
    const loc = this.blobs.get(id);
    if (!loc) throw new DamagedRepository(`blob ${id} is in no index`);
    let fd = this.fds.get(loc.pack);
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir, 'data', loc.pack.slice(0, 2), loc.pack), 'r');
      this.fds.set(loc.pack, fd);
    }
    const sealed = Buffer.allocUnsafe(loc.length);
    if (fs.readSync(fd, sealed, 0, loc.length, loc.offset) !== loc.length)
      throw new DamagedRepository(`pack ${loc.pack} is truncated`);
    let plain = this.decrypt(sealed);
    if (loc.uncompressedLength !== undefined) {
      try {
        plain = decompress(plain);
      } catch {
        throw new DamagedRepository(`blob ${id} in pack ${loc.pack} does not decompress`);
      }
    }
    if (sha256(plain) !== id) throw new DamagedRepository(`blob ${id} in pack ${loc.pack} does not match its ID`);
    return plain;
  }

  tree(id: string): TreeNode[] {
    return (JSON.parse(this.blob(id).toString('utf8')) as { nodes: TreeNode[] | null }).nodes ?? [];
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}
