// `strata system check`: compares metadata and disk in both directions and lists each fault
// with its kind, path and size; with `repair`, fixes what is safe and says what it left.
//
// Quick mode reads rows and directory listings only. Full mode also reads every layer: its tar
// must hash to its diffID and the snapshot must hold every file of the tar with the same bytes
// (layer-verify.ts).
//
// On a live daemon nothing being made right now is flagged: containers whose create or removal
// carries an incomplete mark are skipped; objects that operations make in steps are judged only
// when no other API request was in flight from the start of the scan to its end (otherwise the
// report lists them under Skipped); and every fault is looked at a second time after the scan,
// dropping those that an operation finished meanwhile. After a repair the whole check runs again, and what it still finds is what is left.
import path from 'node:path';
import { checkMounts, checkScratch } from './mounts.js';
import { checkContainers } from './containers.js';
import { checkLayers } from './layers.js';
import { checkVolumes } from './volumes.js';
import type { CheckEnv, CheckedEngine, CheckReport, Fault, FaultKind, FaultReport } from './types.js';

export type { CheckReport, FaultReport } from './types.js';

export interface CheckOptions {
  repair?: boolean;
  quick?: boolean;
}

// Order matters for repairs: mounts go before the directories they sit in, containers before
// the snapshots and volumes they hold.
const checkers = [checkMounts, checkScratch, checkContainers, checkLayers, checkVolumes];

async function scan(engine: CheckedEngine, quick: boolean): Promise<{ env: CheckEnv; faults: Fault[] }> {
  const env: CheckEnv = {
    engine,
    dataRoot: engine.config.dataRoot,
    execRoot: engine.config.execRoot,
    snapshotRoot: path.join(engine.config.dataRoot, 'snapshots', engine.snapshotter.driver),
    quick,
    // The check's own request is the one in flight.
    quiet: engine.activity.requests <= 1,
    checked: {},
    skipped: [],
  };
  const begun = engine.activity.begun;
  const found: Fault[] = [];
  for (const check of checkers) found.push(...(await check(env)));
  const faults: Fault[] = [];
  for (const f of found) if (await f.still()) faults.push(f);
  // Quiet at the start is not enough: a request that came during the scan may have made
  // something half-way since. Then what operations make in steps is not judged this time.
  const stillQuiet = engine.activity.requests <= 1 && engine.activity.begun === begun;
  if (!env.quiet || !stillQuiet) {
    env.skipped.push(
      env.quiet
        ? 'objects operations make in steps: a request came in during the check'
        : 'layers without a snapshot: other requests were in flight',
    );
    return { env, faults: faults.filter((f) => !STEPWISE.has(f.kind)) };
  }
  return { env, faults };
}

/** Kinds that an operation in flight can show for a moment (judged only on a quiet daemon). */
const STEPWISE = new Set<FaultKind>([
  'stale-mount',
  'scratch-leftover',
  'ingest-leftover',
  'blob-orphan',
  'snapshot-dir-orphan',
  'snapshot-incomplete',
  'layer-snapshot-orphan',
  'layer-snapshot-missing',
  'volume-dir-orphan',
  'volume-dir-missing',
]);

const reportOf = (f: Fault): FaultReport => ({
  Kind: f.kind,
  Path: f.path,
  Size: f.size,
  Detail: f.detail,
  Repaired: false,
  ...(f.left ? { Action: f.left } : {}),
});

export async function runCheck(engine: CheckedEngine, opts: CheckOptions = {}): Promise<CheckReport> {
  const quick = !!opts.quick;
  const { env, faults } = await scan(engine, quick);
  const reports = faults.map(reportOf);
  let remaining = faults.length;
  if (opts.repair) {
    for (const [i, f] of faults.entries()) {
      if (!f.repair) continue;
      try {
        if (!(await f.still())) {
          reports[i]!.Repaired = true;
          reports[i]!.Action = 'gone by itself';
          continue;
        }
        reports[i]!.Action = await f.repair();
        reports[i]!.Repaired = true;
      } catch (err) {
        reports[i]!.Action = `left: ${(err as Error).message}`;
      }
    }
    const again = await scan(engine, quick);
    remaining = again.faults.length;
    // A fault the repairs uncovered (or could not fix) is listed as it is now.
    const key = (r: { Kind: string; Path: string }) => `${r.Kind} ${r.Path}`;
    const listed = new Map(reports.map((r) => [key(r), r]));
    for (const f of again.faults) {
      const r = listed.get(key({ Kind: f.kind, Path: f.path }));
      if (r) r.Repaired = false;
      else reports.push(reportOf(f));
    }
  }
  return {
    Mode: quick ? 'quick' : 'full',
    Repair: !!opts.repair,
    Checked: env.checked,
    Skipped: [...new Set(env.skipped)],
    Faults: reports,
    Remaining: remaining,
  };
}
