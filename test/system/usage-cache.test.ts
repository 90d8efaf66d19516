import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageCache, followContainerEvents } from '../../src/system/usage-cache.js';
import { EventBus } from '../../src/system/events.js';

function counting(ttlMs = 50): { cache: UsageCache; walks: Map<string, number>; sizes: Map<string, number> } {
  const walks = new Map<string, number>();
  const sizes = new Map<string, number>();
  const cache = new UsageCache(async (key) => {
    walks.set(key, (walks.get(key) ?? 0) + 1);
    return { size: sizes.get(key) ?? 0, inodes: 1 };
  }, ttlMs);
  return { cache, walks, sizes };
}

test('a settled figure is walked once, however often it is read', async () => {
  const { cache, walks } = counting();
  for (let i = 0; i < 5; i++) await cache.get('layer');
  assert.equal(walks.get('layer'), 1);
});

test('container events drop the figure: exec_die at once, a running container also by age', async () => {
  const { cache, walks, sizes } = counting();
  const events = new EventBus();
  followContainerEvents(events, cache, (id) => `container-${id}`);
  await cache.get('container-a');
  events.emitEvent('container', 'start', 'a');
  sizes.set('container-a', 2000);
  assert.equal((await cache.get('container-a')).size, 2000, 'start makes the next read walk again');
  sizes.set('container-a', 3000);
  events.emitEvent('container', 'exec_die', 'a');
  assert.equal((await cache.get('container-a')).size, 3000, 'an exec that ended changes the figure at once');
  sizes.set('container-a', 4000);
  assert.equal((await cache.get('container-a')).size, 3000, 'within the age limit the cached figure stands');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal((await cache.get('container-a')).size, 4000, "a running container's figure expires by age");
  events.emitEvent('container', 'die', 'a');
  const before = walks.get('container-a')!;
  await new Promise((r) => setTimeout(r, 60));
  await cache.get('container-a');
  await cache.get('container-a');
  assert.equal(walks.get('container-a'), before + 1, 'a stopped container is walked once after it stops, then cached');
});

test('volume figures are dropped when a process of a container using them ends or the volume is unmounted', async () => {
  const { cache, sizes } = counting();
  const events = new EventBus();
  followContainerEvents(events, cache, (id) => `container-${id}`);
  events.emitEvent('volume', 'mount', 'v', { driver: 'local', container: 'x' });
  await cache.get('volume:v');
  sizes.set('volume:v', 1048576);
  events.emitEvent('container', 'exec_die', 'x');
  assert.equal((await cache.get('volume:v')).size, 1048576);
  sizes.set('volume:v', 5);
  events.emitEvent('volume', 'unmount', 'v', { driver: 'local', container: 'x' });
  assert.equal((await cache.get('volume:v')).size, 5);
});

test("a container's exit drops the figures of its own volumes only", async () => {
  // Figures of mounted volumes do not expire by age within the test: only events drop them.
  const { cache, walks } = counting(3_600_000);
  const events = new EventBus();
  followContainerEvents(events, cache, (id) => `container-${id}`);
  await cache.get('volume:idle');
  events.emitEvent('volume', 'mount', 'used', { driver: 'local', container: 'c' });
  await cache.get('volume:used');
  // docker cp into the running container mounts the volume a second time, then lets it go.
  events.emitEvent('volume', 'mount', 'used', { driver: 'local', container: 'c' });
  events.emitEvent('volume', 'unmount', 'used', { driver: 'local', container: 'c' });
  await cache.get('volume:used');
  const used = walks.get('volume:used')!;
  for (const action of ['exec_die', 'extract-to-dir', 'die']) {
    events.emitEvent('container', action, 'c');
    await cache.get('volume:idle');
    await cache.get('volume:used');
  }
  assert.equal(walks.get('volume:idle'), 1, 'the volume no container had mounted is not walked again');
  assert.equal(walks.get('volume:used'), used + 3, "the exited container's volume is walked again after each");
  // Unmounted at the end of the container's life: its exit no longer concerns the volume.
  events.emitEvent('volume', 'unmount', 'used', { driver: 'local', container: 'c' });
  await cache.get('volume:used');
  events.emitEvent('container', 'die', 'c');
  await cache.get('volume:used');
  assert.equal(walks.get('volume:used'), used + 4, 'only the unmount walked it again');
});
