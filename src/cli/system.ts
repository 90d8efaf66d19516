// `strata system df`: what `docker system df` shows, plus inodes (which Docker never shows),
// and how full the data-root's filesystem is in bytes and in inodes.
import type { Command } from 'commander';
import { printAnswer, requestJson } from './client.js';
import { formatBytes } from '../image/format.js';
import type { StorageReport } from '../system/disk-usage.js';
import type { CheckReport } from '../system/check/types.js';

const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : '-');
const size = (n: number) => (n < 0 ? 'N/A' : formatBytes(n));
const count = (n: number) => (n < 0 ? 'N/A' : String(n));

/** An image given by ID shows as docker ps shows it: 12 hex digits. */
const shortImage = (ref: string) => (ref.startsWith('sha256:') ? ref.slice(7, 19) : ref);

/** Left-aligned columns, as docker's tables print them. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function formatReport(r: StorageReport, verbose: boolean): string {
  const sum = (xs: { Size: number; Inodes: number }[], k: 'Size' | 'Inodes') =>
    xs.reduce((n, x) => n + Math.max(0, x[k]), 0);
  let out = table([
    ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'INODES'],
    ['Layers', String(r.Layers.Count), '', size(r.Layers.Size), count(r.Layers.Inodes)],
    [
      'Containers',
      String(r.Containers.length),
      String(r.Containers.filter((c) => c.State === 'running').length),
      size(sum(r.Containers, 'Size')),
      String(sum(r.Containers, 'Inodes')),
    ],
    [
      'Local Volumes',
      String(r.Volumes.length),
      String(r.Volumes.filter((v) => v.RefCount > 0).length),
      size(sum(r.Volumes, 'Size')),
      String(sum(r.Volumes, 'Inodes')),
    ],
  ]);
  const d = r.DataRoot;
  out +=
    `\nData-root ${d.Path}: ${formatBytes(d.Free)} of ${formatBytes(d.Size)} free (${pct(d.Free, d.Size)}), ` +
    `${d.InodesFree} of ${d.Inodes} inodes free (${pct(d.InodesFree, d.Inodes)})\n`;
  if (!verbose) return out;
  const byInodes = <T extends { Inodes: number }>(xs: T[]) => [...xs].sort((a, b) => b.Inodes - a.Inodes);
  out +=
    '\nContainers (most inodes first):\n' +
    table([
      ['CONTAINER ID', 'NAME', 'IMAGE', 'STATE', 'SIZE', 'INODES'],
      ...byInodes(r.Containers).map((c) => [
        c.Id.slice(0, 12),
        c.Name,
        shortImage(c.Image),
        c.State,
        size(c.Size),
        count(c.Inodes),
      ]),
    ]);
  out +=
    '\nLocal Volumes (most inodes first):\n' +
    table([
      ['VOLUME NAME', 'LINKS', 'SIZE', 'INODES'],
      ...byInodes(r.Volumes).map((v) => [v.Name, String(v.RefCount), size(v.Size), count(v.Inodes)]),
    ]);
  return out;
}

export function registerSystemCommands(program: Command, hostOf: () => string): void {
  const system = program
    .command('system')
    .description('storage figures beyond docker system df, and a consistency check (Strata extensions)');
  system
    .command('df')
    .description(
      "bytes and inodes of layers, containers and volumes, and the data-root filesystem's free space and inodes",
    )
    .option('-v, --verbose', 'one line per container and per volume, most inodes first')
    .option('--format <format>', '"json" for the daemon\'s figures as they are')
    .action(async (o: { verbose?: boolean; format?: string }) => {
      const r = await requestJson<StorageReport>(hostOf(), 'GET', '/strata/system/df');
      printAnswer(o.format, r, () => formatReport(r, !!o.verbose));
    });
  system
    .command('check')
    .description('compare metadata and disk both ways and list every fault; exit status 1 while faults remain')
    .option('--repair', 'fix what is safe to fix, and say what was left')
    .option('--quick', "rows and listings only: do not read every layer's files")
    .option('--format <format>', '"json" for the daemon\'s report as it is')
    .action(async (o: { repair?: boolean; quick?: boolean; format?: string }) => {
      const q = [o.repair ? 'repair=1' : '', o.quick ? 'quick=1' : ''].filter(Boolean).join('&');
      const r = await requestJson<CheckReport>(hostOf(), 'POST', `/strata/system/check${q ? '?' + q : ''}`);
      printAnswer(o.format, r, () => formatCheck(r));
      if (r.Remaining > 0) process.exitCode = 1;
    });
}

export function formatCheck(r: CheckReport): string {
  const checked = Object.entries(r.Checked)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  let out = `${r.Mode} check: ${checked}\n`;
  for (const s of r.Skipped) out += `skipped: ${s}\n`;
  if (r.Faults.length > 0) {
    const rows = [['KIND', 'PATH', 'SIZE', 'DETAIL', ...(r.Repair ? ['REPAIR'] : [])]];
    for (const f of r.Faults) {
      const action = f.Repaired ? (f.Action ?? 'repaired') : (f.Action ?? 'left');
      rows.push([f.Kind, f.Path, formatBytes(f.Size), f.Detail, ...(r.Repair ? [action] : [])]);
    }
    out += '\n' + table(rows);
    if (!r.Repair) for (const f of r.Faults.filter((x) => x.Action)) out += `${f.Kind} ${f.Path}: ${f.Action}\n`;
  }
  const fixed = r.Faults.filter((f) => f.Repaired).length;
  out += `\n${r.Faults.length} fault(s) found${r.Repair ? `, ${fixed} repaired` : ''}, ${r.Remaining} remaining\n`;
  return out;
}
