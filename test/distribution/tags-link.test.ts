// The next page of a tags/list answer as its Link header names it: the distribution spec's
// `<url>; rel="next"`, among other links or in several headers; none when no link says next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextPageLink } from '../../src/distribution/tags.js';

test('Link headers: the rel="next" URL, wherever it stands', () => {
  assert.equal(nextPageLink('</v2/a/tags/list?n=1&last=x>; rel="next"'), '/v2/a/tags/list?n=1&last=x');
  assert.equal(
    nextPageLink('</v2/a/tags/list?last=p>; rel="prev", <https://r.example/v2/a/tags/list?last=y>; rel="next"'),
    'https://r.example/v2/a/tags/list?last=y',
  );
  assert.equal(nextPageLink(['<http://x/first>; rel="first"', '<http://x/next>; rel=next']), 'http://x/next');
  assert.equal(nextPageLink('</v2/a/tags/list?last=p>; rel="prev"'), undefined);
  assert.equal(nextPageLink(undefined), undefined);
  assert.equal(nextPageLink(''), undefined);
});
