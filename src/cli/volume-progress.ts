// A one-line progress bar on stderr (bytes, total when known, rate); silent when stderr is not
// a terminal, so scripts and logs get only the results.
function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export { human as humanBytes };

export class ProgressBar {
  private readonly started = Date.now();
  private last = 0;
  private drawn = false;
  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  update(current: number, total?: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = `${human(current / secs)}/s`;
    const width = 30;
    let line: string;
    if (total && total > 0) {
      const frac = Math.min(current / total, 1);
      const fill = Math.round(frac * width);
      line = `${this.label} [${'='.repeat(Math.max(fill - 1, 0))}${fill > 0 && fill < width ? '>' : fill === width ? '=' : ''}${' '.repeat(width - fill)}] ${human(current)}/${human(total)} ${rate}`;
    } else {
      line = `${this.label} ${human(current)} ${rate}`;
    }
    const cols = this.out.columns || 100;
    this.out.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
