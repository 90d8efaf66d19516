// Human sizes the way Docker's go-units HumanSize prints them in progress bars (decimal, 4 significant digits).
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** Go's RFC3339Nano: fractional seconds without trailing zeros. */
export function rfc3339Nano(s: string | undefined): string {
  if (!s) return '0001-01-01T00:00:00Z';
  return s.replace(/\.(\d*?)0+(?=(Z|[+-]\d\d:\d\d)$)/, (_m, d: string) => (d ? `.${d}` : ''));
}

export function unixSeconds(s: string | undefined): number {
  if (!s) return 0;
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}
