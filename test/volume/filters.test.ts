// volume ls and prune filters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS_LABEL, listFilter, pruneFilter } from '../../src/volume/filters.js';
import type { VolumeRecord } from '../../src/volume/types.js';

const vol = (name: string, labels: Record<string, string> = {}, driver = 'local'): VolumeRecord => ({
  name,
  driver,
  labels,
  options: {},
  mountpoint: `/x/${name}/_data`,
  createdAt: '',
  scope: 'local',
  anonymous: ANONYMOUS_LABEL in labels,
});
const vols = [
  vol('api_uploads', { env: 'production', service: 'api' }),
  vol('other', { env: 'staging' }),
  vol('plain'),
  vol('a'.repeat(64), { [ANONYMOUS_LABEL]: '' }),
  vol('remote', {}, 'sshfs'),
];
const inUse = (n: string) => n === 'plain';
const names = (f: Record<string, string[]>) =>
  vols.filter(listFilter(new Map(Object.entries(f)), inUse)).map((v) => v.name);

test('ls filters: name (substring/regexp), driver, label, dangling', () => {
  assert.deepEqual(names({ name: ['upl'] }), ['api_uploads']);
  assert.deepEqual(names({ name: ['^oth', 'plain'] }), ['other', 'plain']);
  assert.deepEqual(names({ driver: ['sshfs'] }), ['remote']);
  assert.deepEqual(names({ label: ['env'] }), ['api_uploads', 'other']);
  assert.deepEqual(names({ label: ['env=production', 'service=api'] }), ['api_uploads']);
  assert.deepEqual(names({ label: ['env=qa'] }), []);
  assert.deepEqual(names({ dangling: ['false'] }), ['plain']);
  assert.equal(names({ dangling: ['1'] }).includes('plain'), false);
  assert.throws(() => names({ dangling: ['maybe'] }), /invalid filter 'dangling=maybe'/);
  assert.throws(() => names({ foo: ['x'] }), /invalid filter 'foo'/);
});

test('prune filters: anonymous only unless all=true; label and label!; all must be one boolean', () => {
  const pick = (f: Record<string, string[]>) => vols.filter(pruneFilter(new Map(Object.entries(f)))).map((v) => v.name);
  assert.deepEqual(pick({}), ['a'.repeat(64)]);
  assert.deepEqual(pick({ all: ['true'] }).length, vols.length);
  assert.deepEqual(pick({ all: ['0'] }), ['a'.repeat(64)]);
  assert.deepEqual(pick({ all: ['1'], label: ['env'] }), ['api_uploads', 'other']);
  assert.deepEqual(pick({ all: ['1'], 'label!': ['env=production'] }), ['other', 'plain', 'a'.repeat(64), 'remote']);
  assert.throws(() => pick({ all: ['yes'] }), /invalid filter 'all=yes'/);
  assert.throws(() => pick({ all: ['true', 'false'] }), /invalid filter 'all=true,false'/);
  assert.throws(() => pick({ dangling: ['true'] }), /invalid filter 'dangling'/);
});
