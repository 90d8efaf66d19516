import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIDs, EMPTY_LAYER_DIFF_ID, sha256 } from '../../src/image/digest.js';
import { dockerArchive, makeTar } from './fixture-archive.js';

// Expected values from the reference daemon (Docker 20.10.24): the archive of
// fixture-archive.ts `dockerArchive({ tag: 'layered:1' })` was loaded with `docker load`, the
// image ID read with `docker image inspect`, and each chainID read from its layerdb directory
// (image/overlay2/layerdb/sha256/<chainID>/diff).
const dockerDiffIDs = [
  'sha256:7d3eabbb45c99f10032f213c0fbb09f9413103bec0d46097c0182731987f6445',
  'sha256:04f7813a01d0c0b6e6ebbb43581c9f6816f93c64376107d4d618a8dc76b6bee7',
  'sha256:a1939ceb96315f3afbd030f8918303c81f4567819922caa9c17481a7f8931323',
];
const dockerChainIDs = [
  'sha256:7d3eabbb45c99f10032f213c0fbb09f9413103bec0d46097c0182731987f6445',
  'sha256:c33631e7e3ff6ea8721ae7a5a625c203f0a507f9c5ffedab2aebc938b30d9dff',
  'sha256:b23fb09318f743fc0df27ec9a0c6f096f37045542c0d8f1e213a277b72bbe63b',
];
const dockerImageID = 'sha256:660fc4253e8ceccae49a7926396fc0979dfadeeab4d67f27b10e518dcbb1de27';

test('chainIDs are computed as Docker computes them', () => {
  assert.deepEqual(chainIDs(dockerDiffIDs), dockerChainIDs);
  assert.deepEqual(chainIDs([]), []);
});

test('the fixture archive has the diffIDs and image ID Docker gave it', async () => {
  const a = await dockerArchive({ tag: 'layered:1' });
  assert.deepEqual(a.diffIDs, dockerDiffIDs);
  assert.equal(a.id, dockerImageID);
});

test('the empty layer is 1024 zero bytes', async () => {
  assert.equal(sha256(Buffer.alloc(1024)), EMPTY_LAYER_DIFF_ID);
  assert.equal(sha256(await makeTar([])), EMPTY_LAYER_DIFF_ID);
});
