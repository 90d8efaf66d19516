// `strata volume …`: what the docker CLI cannot do with volumes — export/import as tar,
// deduplicated backups with retention, verify, restore, clone. The daemon does the work
// (it owns the volumes); these commands stream data and draw progress.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Command } from 'commander';
import { call, callJson, callStream } from './volume-client.js';
import { humanBytes, ProgressBar } from './volume-progress.js';

type HostOf = () => string;

function counted(bar: ProgressBar): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      bar.update(n);
      cb(null, chunk);
    },
    flush(cb) {
      bar.update(n, undefined, true);
      cb();
    },
  });
}

/** A local directory becomes absolute (the daemon has its own working directory); remote locations pass through. */
function repositoryArg(location: string): string {
  return /^[a-z0-9]+:/.test(location) ? location : path.resolve(location);
}

interface Retention {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** The calendar retention flags shared by backup and forget (after --keep-last, whose help differs). */
function withRetention(cmd: Command): Command {
  return cmd
    .option('--keep-daily <n>', 'keep the last backup of each of the last N days', intOpt)
    .option('--keep-weekly <n>', 'keep the last backup of each of the last N weeks', intOpt)
    .option('--keep-monthly <n>', 'keep the last backup of each of the last N months', intOpt);
}

function retentionBody(o: Retention): Record<string, number | undefined> {
  return { KeepLast: o.keepLast, KeepDaily: o.keepDaily, KeepWeekly: o.keepWeekly, KeepMonthly: o.keepMonthly };
}

function intOpt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid number: ${v}`);
  return n;
}

const enc = encodeURIComponent;

export function registerVolumeCommands(program: Command, hostOf: HostOf): void {
  const volume = program
    .command('volume')
    .description('volume export/import, backups, restore, clone and rename (Strata extensions)');

  volume
    .command('export <volume>')
    .description("write the volume's content as a tar stream (extracts with tar -x)")
    .option('-o, --output <file>', 'write to a file instead of stdout ("-" for stdout)')
    .option('-f, --force', 'export even if running containers using the volume cannot be frozen')
    .action(async (name: string, o: { output?: string; force?: boolean }) => {
      const toStdout = !o.output || o.output === '-';
      if (toStdout && process.stdout.isTTY)
        throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const res = await call(hostOf(), 'POST', `/strata/volumes/${enc(name)}/export${o.force ? '?force=1' : ''}`);
      const bar = new ProgressBar(`exporting ${name}`);
      await pipeline(res, counted(bar), toStdout ? process.stdout : fs.createWriteStream(o.output!));
      bar.done();
    });

  volume
    .command('import <volume> [file]')
    .description("replace the volume's content with a tar (plain, gzip or zstd) from a file or stdin")
    .option('-f, --force', 'import even if containers use the volume')
    .action(async (name: string, file: string | undefined, o: { force?: boolean }) => {
      const fromStdin = !file || file === '-';
      if (fromStdin && process.stdin.isTTY)
        throw new Error('requested import from stdin, but stdin is a terminal: give a FILE or redirect');
      const size = fromStdin ? undefined : fs.statSync(file!).size;
      const bar = new ProgressBar(`importing ${name}`);
      let n = 0;
      const input = (fromStdin ? process.stdin : fs.createReadStream(file!)).pipe(
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            n += chunk.length;
            bar.update(n, size);
            cb(null, chunk);
          },
        }),
      );
      const res = await call(
        hostOf(),
        'POST',
        `/strata/volumes/${enc(name)}/import${o.force ? '?force=1' : ''}`,
        input,
      );
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      bar.done();
      const r = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries: number; Bytes: number };
      process.stdout.write(`${name}: imported ${r.Entries} entries, ${humanBytes(r.Bytes)}\n`);
    });

  withRetention(
    volume
      .command('backup <volumes...>')
      .description('back volumes up into a deduplicated, compressed, checksummed repository')
      .requiredOption('--to <repository>', 'repository: a directory, or rclone:REMOTE:PATH')
      .option('--keep-last <n>', 'after the backup keep the last N backups of each volume', intOpt),
  )
    .option('-f, --force', 'back up even if running containers using a volume cannot be frozen')
    .action(async (names: string[], o: Retention & { to: string; force?: boolean }) => {
      const bars = new Map<string, ProgressBar>();
      const result = await callStream<{ backups: any[]; removed: string[] }>(
        hostOf(),
        '/strata/volumes/backup',
        {
          Volumes: names,
          Repository: repositoryArg(o.to),
          Force: o.force,
          ...retentionBody(o),
        },
        (m) => {
          let bar = bars.get(m.id);
          if (!bar) {
            for (const b of bars.values()) b.done();
            bar = new ProgressBar(`backing up ${m.id}`);
            bars.set(m.id, bar);
          }
          bar.update(m.progressDetail?.current ?? 0, m.progressDetail?.total);
        },
      );
      for (const b of bars.values()) b.done();
      for (const b of result.backups) {
        process.stdout.write(
          `${b.Volume}: backup ${b.ShortID} (${humanBytes(b.BytesProcessed)} read, ${humanBytes(b.BytesAdded)} added, ${b.DurationSeconds.toFixed(1)}s)\n`,
        );
      }
      if (result.removed.length)
        process.stdout.write(
          `removed ${result.removed.length} backups: ${result.removed.map((id) => id.slice(0, 8)).join(' ')}\n`,
        );
    });

  volume
    .command('backup-key')
    .description(
      "print this daemon's backup repository key (RESTIC_PASSWORD for its repositories made without a password); keep a copy safe",
    )
    .action(async () => {
      const k = await callJson<{ Key: string; Path: string }>(hostOf(), 'GET', '/strata/backups/key');
      process.stdout.write(`${k.Key}\n`);
    });

  volume
    .command('backups')
    .description('list the backups in a repository')
    .requiredOption('--from <repository>', 'repository: a directory, or rclone:REMOTE:PATH')
    .option('--volume <volume>', 'only the backups of this volume')
    .option('-q, --quiet', 'only IDs')
    .action(async (o: { from: string; volume?: string; quiet?: boolean }) => {
      const q = new URLSearchParams({ repository: repositoryArg(o.from) });
      if (o.volume) q.set('volume', o.volume);
      const list = await callJson<{ ShortID: string; ID: string; Volume: string; Created: string }[]>(
        hostOf(),
        'GET',
        `/strata/backups?${q}`,
      );
      if (o.quiet) {
        for (const b of list) process.stdout.write(`${b.ID}\n`);
        return;
      }
      const rows = [
        ['BACKUP ID', 'VOLUME', 'CREATED'],
        ...list.map((b) => [b.ShortID, b.Volume, b.Created.replace(/\.\d+/, '')]),
      ];
      const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(`${r[0]!.padEnd(w[0]! + 3)}${r[1]!.padEnd(w[1]! + 3)}${r[2]}\n`);
    });

  volume
    .command('restore <volumeAtBackup>')
    .description('restore VOLUME@BACKUP (an ID or "latest") byte for byte; nothing is changed if the backup is damaged')
    .requiredOption('--from <repository>', 'repository: a directory, or rclone:REMOTE:PATH')
    .option('--to <volume>', 'restore into this volume (created if missing) instead of VOLUME')
    .option('-f, --force', 'restore even if containers use the target volume')
    .action(async (spec: string, o: { from: string; to?: string; force?: boolean }) => {
      const at = spec.lastIndexOf('@');
      const name = at > 0 ? spec.slice(0, at) : spec;
      const backup = at > 0 ? spec.slice(at + 1) : 'latest';
      const bar = new ProgressBar(`restoring ${o.to ?? name}`);
      const r = await callStream<{ Backup: { ShortID: string }; Volume: string }>(
        hostOf(),
        `/strata/volumes/${enc(name)}/restore`,
        { Backup: backup, Repository: repositoryArg(o.from), Target: o.to, Force: o.force },
        (m) => bar.update(m.progressDetail?.current ?? 0, m.progressDetail?.total),
      );
      bar.done();
      process.stdout.write(`${r.Volume}: restored backup ${r.Backup.ShortID}\n`);
    });

  volume
    .command('verify')
    .description('re-read every chunk of a repository and check it')
    .requiredOption('--from <repository>', 'repository: a directory, or rclone:REMOTE:PATH')
    .action(async (o: { from: string }) => {
      await callJson(hostOf(), 'POST', '/strata/backups/verify', { Repository: repositoryArg(o.from) });
      process.stdout.write('no errors were found\n');
    });

  withRetention(
    volume
      .command('forget')
      .description('apply retention to a repository and delete the data no kept backup needs')
      .requiredOption('--from <repository>', 'repository: a directory, or rclone:REMOTE:PATH')
      .option('--keep-last <n>', 'keep the last N backups of each volume', intOpt),
  ).action(async (o: Retention & { from: string }) => {
    const r = await callJson<{ Removed: string[] }>(hostOf(), 'POST', '/strata/backups/forget', {
      Repository: repositoryArg(o.from),
      ...retentionBody(o),
    });
    process.stdout.write(`removed ${r.Removed.length} backups\n`);
  });

  volume
    .command('rename <volume> <name>')
    .description('give a volume no container uses a new name, keeping its content, labels and options')
    .action(async (from: string, to: string) => {
      const v = await callJson<{ Name: string }>(
        hostOf(),
        'POST',
        `/strata/volumes/${enc(from)}/rename?name=${enc(to)}`,
      );
      process.stdout.write(`${v.Name}\n`);
    });

  volume
    .command('clone <source> <target>')
    .description('create volume TARGET with the content and labels of SOURCE (reflinks where the filesystem allows)')
    .option('-f, --force', 'clone even if running containers using SOURCE cannot be frozen')
    .action(async (source: string, target: string, o: { force?: boolean }) => {
      const v = await callJson<{ Name: string }>(hostOf(), 'POST', `/strata/volumes/${enc(source)}/clone`, {
        Target: target,
        Force: o.force,
      });
      process.stdout.write(`${v.Name}\n`);
    });
}
