// deferred(): the service is built at the first method call, once, and a failed load is
// tried again; synchronous methods answer through promises; the proxy is not a thenable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deferred } from '../../src/util/deferred.js';

class Counter {
  n = 0;
  add(k: number): number {
    this.n += k;
    return this.n;
  }
  async later(): Promise<string> {
    return `at ${this.n}`;
  }
}

test('loads at the first call, once, and keeps the instance', async () => {
  let loads = 0;
  const svc = deferred<Counter>(async () => {
    loads++;
    return new Counter();
  });
  assert.equal(loads, 0, 'nothing is loaded before a call');
  const [a, b] = await Promise.all([svc.add(2), svc.add(3)]);
  assert.deepEqual([a, b].sort(), [2, 5]);
  assert.equal(await svc.later(), 'at 5');
  assert.equal(loads, 1);
  assert.equal(await Promise.resolve(svc), svc, 'awaiting the proxy itself does not call a method');
});

test('a failed load fails that call and is tried again by the next', async () => {
  let attempts = 0;
  const svc = deferred<Counter>(async () => {
    if (++attempts === 1) throw new Error('module missing');
    return new Counter();
  });
  await assert.rejects(svc.add(1), /module missing/);
  assert.equal(await svc.add(1), 1);
  assert.equal(attempts, 2);
});
