// `strata image layers IMAGE`: each layer's bytes and inodes, how many images share it, and the
// step that made it; then what only this image holds.
import type { Command } from 'commander';
import { printAnswer, requestJson } from './client.js';
import { formatBytes } from '../image/format.js';
import type { LayerInfo } from '../image/layer-report.js';
import { table } from './system.js';

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function formatLayers(layers: LayerInfo[], noTrunc: boolean): string {
  let out = table([
    ['#', 'DIFF ID', 'SIZE', 'INODES', 'SHARED BY', 'CREATED BY'],
    ...layers.map((l) => [
      String(l.Index),
      noTrunc ? l.DiffID : l.DiffID.replace(/^sha256:/, '').slice(0, 12),
      l.Size < 0 ? 'N/A' : formatBytes(l.Size),
      l.Inodes < 0 ? 'N/A' : String(l.Inodes),
      l.SharedBy > 1 ? `${l.SharedBy} images` : 'this image',
      noTrunc ? l.CreatedBy : truncate(l.CreatedBy.replace(/\s+/g, ' '), 60),
    ]),
  ]);
  const own = layers.filter((l) => l.SharedBy <= 1 && l.Size >= 0);
  out += `\n${layers.length} layers; ${own.length} held by no other image: ${formatBytes(own.reduce((n, l) => n + l.Size, 0))}\n`;
  return out;
}

export function registerImageCommands(program: Command, hostOf: () => string): void {
  const image = program.command('image').description('insight into image layers (Strata extensions)');
  image
    .command('layers <image>')
    .description('bytes and inodes of each layer, how many images share it, and the step that made it')
    .option('--no-trunc', 'full diff IDs and commands')
    .option('--format <format>', '"json" for the daemon\'s figures as they are')
    .action(async (ref: string, o: { trunc: boolean; format?: string }) => {
      const layers = await requestJson<LayerInfo[]>(
        hostOf(),
        'GET',
        `/strata/images/${encodeURIComponent(ref)}/layers`,
      );
      printAnswer(o.format, layers, () => formatLayers(layers, !o.trunc));
    });
}
