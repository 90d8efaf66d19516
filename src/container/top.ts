// docker top: the host's `ps` output restricted to the container's processes, as Docker's
// parsePSOutput does it (the last column keeps its spaces).
import { execFile } from 'node:child_process';
import { InvalidParameter } from '../errors.js';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

export async function top(pids: number[], psArgs: string): Promise<TopResult> {
  const args = psArgs ? psArgs.split(/\s+/).filter(Boolean) : ['-ef'];
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ps', args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new InvalidParameter(`Error running ps: ${String(stderr).trim() || err.message}`));
      else resolve(stdout);
    });
  });
  const lines = out.split('\n').filter((l) => l.trim());
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new InvalidParameter(`Couldn't find PID field in ps output`);
  const wanted = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!wanted.has(Number(fields[pidIndex]))) continue;
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(' '));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}
