// Legacy links (--link name:alias) on the default bridge, as compose v1 and old SDKs use
// them: at start the parent's /etc/hosts names each linked container by its alias, hostname
// and name, and the environment carries Docker's <ALIAS>_PORT_…, <ALIAS>_NAME and
// <ALIAS>_ENV_… variables. On user-defined networks names resolve through DNS instead, so a
// link there is refused rather than half-served.
import { Conflict, InvalidParameter, NotFound, NotImplemented } from '../errors.js';
import type { Ctx } from './context.js';
import type { ContainerRecord } from './types.js';

/** "child:alias", "child" or "/child:/parent/alias" → [child, alias]. */
function parseLink(link: string): [string, string] {
  const [rawChild, rawAlias] = link.split(':');
  const child = (rawChild ?? '').replace(/^\//, '');
  const alias = rawAlias ? rawAlias.split('/').pop()! : child;
  if (!child || !alias) throw new InvalidParameter(`invalid link: ${link}`);
  return [child, alias];
}

/** Create-time checks; returns HostConfig.Links as Docker stores them ("/child:/parent/alias"). */
export function normalizeLinks(ctx: Ctx, hc: Record<string, any>, parentName: string): string[] | null {
  const links = (hc.Links ?? []) as string[];
  if (links.length === 0) return hc.Links ?? null;
  const mode = String(hc.NetworkMode || 'default');
  if (mode === 'host')
    throw new InvalidParameter(
      "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
    );
  if (mode !== 'default' && mode !== 'bridge')
    throw new NotImplemented(
      'links on user-defined networks are not supported by Strata: containers there resolve each other by name and alias',
    );
  return links.map((l) => {
    const [child, alias] = parseLink(l);
    const c = ctx.store.find(child);
    if (!c) throw new InvalidParameter(`could not get container for ${child}: No such container: ${child}`);
    if (String(c.hostConfig.NetworkMode) === 'host')
      throw new InvalidParameter(
        "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
      );
    return `/${c.name}:/${parentName}/${alias}`;
  });
}

export interface LinkedView {
  hosts: string[];
  env: string[];
}

/** At start: every linked container must run; its hosts line and environment variables. */
export function linkedView(ctx: Ctx, rec: ContainerRecord): LinkedView {
  const out: LinkedView = { hosts: [], env: [] };
  for (const l of (rec.hostConfig.Links ?? []) as string[]) {
    const [child, alias] = parseLink(l);
    const c = ctx.store.find(child);
    const ip = c?.networks?.bridge?.IPAddress;
    if (!c || !c.state.Running || !ip)
      throw new Conflict(`Cannot link to a non running container: /${child} AS /${rec.name}/${alias}`);
    const names = [alias, String(c.config.Hostname), ...(alias !== c.name ? [c.name] : [])];
    out.hosts.push(`${names.join(' ')}:${ip}`);
    out.env.push(...linkEnv(alias, `/${rec.name}/${alias}`, ip, c));
  }
  return out;
}

/** Docker's links.Link.ToEnv. */
function linkEnv(alias: string, fullName: string, ip: string, child: ContainerRecord): string[] {
  const p = alias.toUpperCase().replace(/-/g, '_');
  const ports = Object.keys(child.config.ExposedPorts ?? {})
    .map((k) => {
      const [n, proto = 'tcp'] = k.split('/');
      return { n: Number(n), proto };
    })
    .sort((a, b) => a.n - b.n || a.proto.localeCompare(b.proto));
  const env: string[] = [];
  if (ports[0]) env.push(`${p}_PORT=${ports[0].proto}://${ip}:${ports[0].n}`);
  for (const { n, proto } of ports) {
    const k = `${p}_PORT_${n}_${proto.toUpperCase()}`;
    env.push(`${k}=${proto}://${ip}:${n}`, `${k}_ADDR=${ip}`, `${k}_PORT=${n}`, `${k}_PROTO=${proto}`);
  }
  env.push(`${p}_NAME=${fullName}`);
  for (const e of (child.config.Env ?? []) as string[]) {
    const i = e.indexOf('=');
    if (i < 0) continue;
    const key = e.slice(0, i);
    // Variables every image has say nothing about the linked container.
    if (key === 'HOME' || key === 'PATH') continue;
    env.push(`${p}_ENV_${key}=${e.slice(i + 1)}`);
  }
  return env;
}

/**
 * The names a container is also known by, `/parent/alias` for each link to it, as dockerd lists
 * them after its own name (ps's Names) and finds it by them: every container's at once (child
 * name → `/parent/alias`, unsorted), since listings ask for all of them.
 */
export function linkNamesByChild(ctx: Ctx): Map<string, string[]> {
  const byChild = new Map<string, string[]>();
  for (const parent of ctx.store.all()) {
    for (const l of (parent.hostConfig.Links ?? []) as string[]) {
      const [child, alias] = parseLink(l);
      const names = byChild.get(child);
      if (names) names.push(`/${parent.name}/${alias}`);
      else byChild.set(child, [`/${parent.name}/${alias}`]);
    }
  }
  return byChild;
}

/**
 * A rename carried into the stored links, as dockerd's link index follows it: links to the
 * container name it by its new name, and its own links sit under its new name
 * (`/child:/new/alias`), so the next start of either finds the other.
 */
export function renameInLinks(ctx: Ctx, rec: ContainerRecord, oldName: string): void {
  for (const parent of ctx.store.all()) {
    const links = parent.hostConfig.Links as string[] | null | undefined;
    if (!links?.length) continue;
    const moved = links.map((l) => {
      const [child, alias] = parseLink(l);
      const childName = child === oldName ? rec.name : child;
      return `/${childName}:/${parent.name}/${alias}`;
    });
    if (moved.every((l, i) => l === links[i])) continue;
    parent.hostConfig.Links = moved;
    ctx.store.save(parent);
  }
}

/** DELETE /containers/{/parent/alias}?link=1: the link goes, both containers stay. */
export function removeLink(ctx: Ctx, ref: string): void {
  const m = /^\/?([^/]+)\/([^/]+)$/.exec(ref);
  if (!m) throw new InvalidParameter(`Conflict, cannot remove the default link name. ${ref}`);
  const parent = ctx.store.get(m[1]!);
  const links = (parent.hostConfig.Links ?? []) as string[];
  const kept = links.filter((l) => parseLink(l)[1] !== m[2]);
  if (kept.length === links.length) throw new NotFound(`Could not find link ${ref}`);
  parent.hostConfig.Links = kept.length ? kept : null;
  ctx.store.save(parent);
}
