// Tables owned by the distribution room. `blob_sources` is Docker's v2metadata: for each layer
// (diffID), the compressed blobs it was pulled as or pushed as, and where (registry and
// repository), so a push sends the same blob again (or mounts it from its repository) instead of
// compressing anew, and an image pulled and pushed keeps its manifest digest.
import type { Migration } from './migration.js';

export const distributionMigrations: Migration[] = [
  {
    id: 'distribution-001-blob-sources',
    sql: `
      CREATE TABLE blob_sources (
        diff_id TEXT NOT NULL,              -- the uncompressed layer
        digest TEXT NOT NULL,               -- the compressed blob in the registry
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,              -- bytes of the compressed blob
        registry TEXT NOT NULL,             -- host as references name it (docker.io, localhost:5000)
        repository TEXT NOT NULL,           -- path under /v2/ (library/busybox)
        created INTEGER NOT NULL,
        PRIMARY KEY (diff_id, digest, registry, repository)
      );
      CREATE INDEX blob_sources_digest ON blob_sources(digest);
    `,
  },
];
