// Docker's label filter (filters.Args.MatchKVList), shared by ps, prune, images and volumes.
// Labels are looked up as own keys only: `label=constructor` must not match through the
// object prototype.

/** Every `key` (present) or `key=value` (equal) in `wanted` holds for `labels`; none wanted → true. */
export function matchLabels(
  wanted: readonly string[] | undefined,
  labels: Record<string, string> | null | undefined,
): boolean {
  if (!wanted?.length) return true;
  if (!labels) return false;
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!Object.hasOwn(labels, key)) return false;
    return eq < 0 || labels[key] === w.slice(eq + 1);
  });
}
