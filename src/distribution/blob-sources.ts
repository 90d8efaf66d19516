// Docker's v2metadata: which compressed blob a layer is in each registry repository, recorded
// when a layer is pulled or pushed, read when pushing (same blob, HEAD or cross-repo mount).
import type { MetaDb } from '../meta/db.js';

export interface BlobSource {
  diffID: string;
  digest: string;
  mediaType: string;
  size: number;
  registry: string;
  repository: string;
}

export class BlobSources {
  constructor(private readonly db: MetaDb) {}

  add(s: BlobSource): void {
    this.db
      .prepare(
        `INSERT INTO blob_sources (diff_id, digest, media_type, size, registry, repository, created) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET media_type = excluded.media_type, size = excluded.size, created = excluded.created`,
      )
      .run(s.diffID, s.digest, s.mediaType, s.size, s.registry, s.repository, Date.now());
  }

  /** Known blobs of a layer in one registry, the newest first. */
  forLayer(diffID: string, registry: string): BlobSource[] {
    return (
      this.db
        .prepare('SELECT * FROM blob_sources WHERE diff_id = ? AND registry = ? ORDER BY created DESC')
        .all(diffID, registry) as {
        diff_id: string;
        digest: string;
        media_type: string;
        size: number;
        registry: string;
        repository: string;
      }[]
    ).map((r) => ({
      diffID: r.diff_id,
      digest: r.digest,
      mediaType: r.media_type,
      size: r.size,
      registry: r.registry,
      repository: r.repository,
    }));
  }

  /** Forgets a blob the registry no longer has. */
  remove(digest: string, registry: string, repository: string): void {
    this.db
      .prepare('DELETE FROM blob_sources WHERE digest = ? AND registry = ? AND repository = ?')
      .run(digest, registry, repository);
  }
}
