// `strata system check`: compares metadata and disk in both directions and lists each fault
// with its kind, path and size; with `repair`, fixes what is safe and says what it left.
//
// Quick mode reads rows and directory listings only. Full mode also reads every layer: its tar
// must hash to its diffID and the snapshot must hold every file of the tar with the same bytes
// (layer-verify.ts).
//
// On a live daemon nothing being made right now is flagged: containers whose create carries an
// incomplete mark are skipped; objects that operations make in steps are judged only when no
// other API request is in flight (otherwise the report lists them under Skipped); and every
// fault is looked at a second time after the scan, dropping those that an operation finished
// meanwhile. After a repair the whole check runs again, and what it still finds is what is left.
import path from 'node:path';
import type { Engine } from '../../engine.js';
import { checkMounts, checkScratch } from './mounts.js';
import { checkContainers } from './containers.js';
import { checkLayers } from './layers.js';
import { checkVolumes } from './volumes.js';
import type { CheckEnv, CheckReport, Fault, FaultReport } from './types.js';

export type { CheckReport, FaultReport } from './types.js';

export interface CheckOptions {
  repair?: boolean;
  quick?: boolean;
}

// Order matters for repairs: mounts go before the directories they sit in, containers before
// the snapshots and volumes they hold.
const checkers = [checkMounts, checkScratch, checkContainers, checkLayers, checkVolumes];

async function scan(engine: Engine, quick: boolean): Promise<{ env: CheckEnv; faults: Fault[] }> {
  const env: CheckEnv = {
    engine,
    dataRoot: engine.config.dataRoot,
    execRoot: engine.config.execRoot,
    snapshotRoot: path.join(engine.config.dataRoot, 'snapshots', engine.snapshotter.driver),
    quick,
    // The check's own request is the one in flight.
    quiet: (engine.activity?.requests ?? 1) <= 1,
    checked: {},
    skipped: [],
  };
  const found: Fault[] = [];
  for (const check of checkers) found.push(...(await check(env)));
  const faults: Fault[] = [];
  for (const f of found) if (await f.still()) faults.push(f);
  return { env, faults };
}

const reportOf = (f: Fault): FaultReport => ({ Kind: f.kind, Path: f.path, Size: f.size, Detail: f.detail, Repaired: false, ...(f.left ? { Action: f.left } : {}) });

export async function runCheck(engine: Engine, opts: CheckOptions = {}): Promise<CheckReport> {
  const quick = !!opts.quick;
  const { env, faults } = await scan(engine, quick);
  const reports = faults.map(reportOf);
  let remaining = faults.length;
  if (opts.repair) {
    for (const [i, f] of faults.entries()) {
      if (!f.repair) continue;
      try {
        if (!(await f.still())) { reports[i]!.Repaired = true; reports[i]!.Action = 'gone by itself'; continue; }
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
  return { Mode: quick ? 'quick' : 'full', Repair: !!opts.repair, Checked: env.checked, Skipped: [...new Set(env.skipped)], Faults: reports, Remaining: remaining };
}
