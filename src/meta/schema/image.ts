// Tables owned by the image room. A row is written only after the data it names is durable
// (layer blob renamed into the content store, snapshot committed), so a crash leaves at most
// unowned data behind, which startup removes; never a row without its data.
import type { Migration } from './migration.js';

export const imageMigrations: Migration[] = [
  {
    id: 'image-001-layers-images-tags',
    sql: `
      CREATE TABLE image_layers (
        chain_id TEXT PRIMARY KEY,          -- also the name of the committed snapshot
        diff_id TEXT NOT NULL,              -- the original uncompressed tar, kept as a content blob
        parent TEXT,                        -- chainID of the layer below, NULL for a base layer
        size INTEGER NOT NULL,              -- Docker's layer size (bytes of the files it adds)
        tar_size INTEGER NOT NULL,
        created INTEGER NOT NULL
      );
      CREATE INDEX image_layers_diff_id ON image_layers(diff_id);
      CREATE TABLE images (
        id TEXT PRIMARY KEY,                -- sha256 of config
        config BLOB NOT NULL,               -- the exact config bytes the ID was computed from
        parent TEXT NOT NULL DEFAULT '',    -- parent image ID (commit/build), '' otherwise
        top_chain_id TEXT,                  -- NULL for an image without layers
        size INTEGER NOT NULL,
        created INTEGER NOT NULL,           -- when this store got it (unix ms)
        last_tag_time TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z'
      );
      CREATE TABLE image_refs (
        ref TEXT PRIMARY KEY,               -- normalized: docker.io/library/alpine:latest or name@sha256:…
        image_id TEXT NOT NULL REFERENCES images(id),
        created INTEGER NOT NULL
      );
      CREATE INDEX image_refs_image ON image_refs(image_id);
    `,
  },
];
