// POST /strata/system/check?repair=1&quick=1: a Strata extension (`strata system check`).
// The answer is the report, with status 200 whether or not faults were found: the faults are
// the answer, not an error.
import { InvalidParameter } from '../errors.js';
import type { Router } from './router.js';

function boolParam(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw new InvalidParameter(`invalid value for ${name}: ${JSON.stringify(v)}: expected 1, true, 0 or false`);
}

export function registerSystemCheckRoutes(router: Router): void {
  router.post('/strata/system/check', async ({ engine, query }) => {
    const options = { repair: boolParam(query, 'repair'), quick: boolParam(query, 'quick') };
    // The checker (it reads every layer's tar back) is loaded at the first check, not with the daemon.
    const { runCheck } = await import('../system/check/index.js');
    return runCheck(engine, options);
  });
}
