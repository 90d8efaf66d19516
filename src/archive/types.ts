// The archive room's contract: tar streams in and out of directories, confined to them.
import type { Readable } from 'node:stream';

export interface ApplyOptions {
  /** How whiteout entries (.wh.NAME, .wh..wh..opq) are written: see snapshot ApplyTarget. */
  whiteouts: 'overlay' | 'naive' | 'aufs';
  /** syncfs the target's filesystem once at the end (default true); false for scratch trees. */
  sync?: boolean;
  /**
   * Hash the stream (default true). false when the caller already hashes the very bytes it
   * feeds in (a tee into the content store): diffID is then '' and tarSize 0.
   */
  digest?: boolean;
  /**
   * A file (created by the caller, private to the daemon) to write the uncompressed stream to as
   * it is applied, byte for byte: the layer's staged copy, written by the thread that has the
   * bytes in hand. The stream is then hashed as it is written (whatever `digest` says).
   */
  stageTo?: string;
  /**
   * Record the tar-split of the stream as it is applied (tar-split.ts): the result then carries
   * the record, or why the layer's files could not give its tar back.
   */
  record?: boolean;
  /**
   * With `record`: a file (not yet existing; its directory is made) to write the layer's tar to
   * only once the record turns out unfaithful, instead of a staged copy of every layer. At the
   * first entry the record cannot give back, the bytes before it are rebuilt from the record so
   * far and the files already written, the rest of the stream is appended as it comes, and
   * nothing more is applied: the caller extracts the file instead (see `spilled`).
   */
  spillTo?: string;
  /**
   * The target is empty to start with: count the disk usage the layer leaves in it as it is
   * written (ApplyResult.usage), so that it need not be walked afterwards to be measured.
   */
  usage?: boolean;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream exactly as received: the layer's diffID ("sha256:…"). */
  diffID: string;
  /** Bytes of the uncompressed tar stream. */
  tarSize: number;
  /** Sum of regular file sizes written (what Docker reports as the layer's size). */
  size: number;
  /** Docker's DiffSize read from the tar's headers (regular files and symlink targets, no whiteouts). */
  diffSize: number;
  /** The gzipped tar-split record, when asked for and the files give the tar back faithfully. */
  record?: Uint8Array;
  /** Why no record was made, when one was asked for. */
  unfaithful?: string;
  /**
   * The stream written to `spillTo` whole: its digest and size, as written (the caller checks
   * them against its own hash of the stream before using the file). The target then holds only
   * part of the layer.
   */
  spilled?: { digest: string; size: number };
  /**
   * With `usage`: what a walk of the target would find (snapshot/usage.ts: st_size of every
   * non-directory, each inode once; inodes, the target itself included). Absent where the count
   * could miss something: an entry replaced or removed another, a whiteout was applied.
   */
  usage?: { size: number; inodes: number };
}

/** One line of `docker diff`: Kind 0 = modified (C), 1 = added (A), 2 = deleted (D). */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

export type TarStream = Readable;

/**
 * Where a snapshot's changes can be read. overlay: the upper dir holds only changes, with
 * 0/0 char-device whiteouts and opaque xattrs; lowers (top first) tell added from modified.
 * naive (vfs): upper is a full copy, compared file by file with the parent's full copy.
 */
export type DiffSource =
  | {
      kind: 'overlay';
      upper: string;
      lowers: string[];
      /** Whiteouts may also be the tar's own .wh.NAME and .wh..wh..opq files (fuse-overlayfs layers). */
      whiteoutFiles?: boolean;
    }
  | { kind: 'naive'; upper: string; lower?: string };

/** What HEAD /containers/{id}/archive returns (base64 JSON in X-Docker-Container-Path-Stat). */
export interface PathStat {
  name: string;
  size: number;
  /** Go os.FileMode bits, as Docker encodes them (dir = 1<<31, symlink = 1<<27, …). */
  mode: number;
  /** RFC 3339. */
  mtime: string;
  linkTarget: string;
}
