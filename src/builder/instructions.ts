// One function per Dockerfile instruction, as the classic builder's dispatchers: each changes
// the stage's run config and commits (metadata instructions with a `#(nop)` comment as the
// cache key and history line), RUN runs its command, COPY/ADD are in copy-step.ts.
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Instruction } from './dockerfile.js';
import { parseJSONArray, parseJSONOrWords, parseNameVal } from './dockerfile.js';
import { BuildError } from './build-error.js';
import type { StepHost, StageState } from './step-host.js';
import { copyRunConfig, goQuoteSlice } from './run-config.js';
import { copyStep } from './copy-step.js';
import { mkdirInRoot } from '../runtime/rootfs-path.js';

export async function dispatch(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  switch (ins.keyword) {
    case 'RUN':
      return run(b, s, ins);
    case 'COPY':
    case 'ADD':
      return copyStep(b, s, ins);
    case 'ENV':
      return env(b, s, ins);
    case 'LABEL':
      return label(b, s, ins);
    case 'ARG':
      return arg(b, s, ins);
    case 'WORKDIR':
      return workdir(b, s, ins);
    case 'USER': {
      s.config.User = b.expand(ins.rest, b.envOf(s));
      return b.commitMetadata(s, `USER ${s.config.User}`);
    }
    case 'EXPOSE':
      return expose(b, s, ins);
    case 'VOLUME':
      return volume(b, s, ins);
    case 'CMD': {
      s.config.Cmd = commandOf(b, s, ins);
      s.cmdSet = true;
      return b.commitMetadata(s, `CMD ${goQuoteSlice(s.config.Cmd)}`);
    }
    case 'ENTRYPOINT': {
      const json = parseJSONArray(ins.rest);
      s.config.Entrypoint = json ?? (ins.rest ? [...b.shell(s), ins.rest] : null);
      if (!s.cmdSet) s.config.Cmd = null;
      return b.commitMetadata(s, `ENTRYPOINT ${goQuoteSlice(s.config.Entrypoint ?? [])}`);
    }
    case 'SHELL': {
      const json = parseJSONArray(ins.rest);
      if (!json || json.length === 0) throw new BuildError('SHELL requires the arguments to be in JSON form');
      s.config.Shell = json;
      return b.commitMetadata(s, `SHELL [${json.join(' ')}]`);
    }
    case 'STOPSIGNAL': {
      s.config.StopSignal = b.expand(ins.rest, b.envOf(s));
      return b.commitMetadata(s, `STOPSIGNAL ${s.config.StopSignal}`);
    }
    case 'MAINTAINER':
      s.author = ins.rest;
      return b.commitMetadata(s, `MAINTAINER ${ins.rest}`);
    case 'ONBUILD':
      return onbuild(b, s, ins);
    case 'HEALTHCHECK':
      return healthcheck(b, s, ins);
    default:
      throw new BuildError(`unknown instruction: ${ins.keyword}`);
  }
}

function commandOf(b: StepHost, s: StageState, ins: Instruction): string[] {
  return parseJSONArray(ins.rest) ?? [...b.shell(s), ins.rest];
}

async function run(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  if (!s.image) throw new BuildError('Please provide a source image with `from` prior to run');
  const args = commandOf(b, s, ins);
  const argEnv = b.buildArgEnv(s).sort();
  const saveCmd = argEnv.length ? [`|${argEnv.length}`, ...argEnv, ...args] : args;
  const probe = copyRunConfig(s.config, { Cmd: saveCmd, Entrypoint: null });
  if (await b.probeCache(s, probe)) return;

  const stdout = new StringDecoder('utf8');
  const stderr = new StringDecoder('utf8');
  await b.inContainer(s, probe, args, argEnv, async (c) => {
    const code = await c.run((stream, chunk) => {
      if (stream === 'stdout') {
        const t = stdout.write(chunk);
        if (t) b.out.stream(t);
      } else {
        const t = stderr.write(chunk);
        if (t) b.out.stream(`\u001b[91m${t}\u001b[0m`);
      }
    }, b.opts.signal);
    if (code !== 0) {
      throw new BuildError(`The command '${args.join(' ')}' returned a non-zero code: ${code}`, code);
    }
    return c.layer();
  });
}

function pairs(b: StepHost, s: StageState, ins: Instruction): [string, string][] {
  const env = b.envOf(s);
  return parseNameVal(ins.rest, ins.keyword, b.escape).map(([k, v]) => [b.expand(k, env), b.expand(v, env)]);
}

async function env(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const kv = pairs(b, s, ins);
  const list = [...(s.config.Env ?? [])];
  for (const [k, v] of kv) {
    const i = list.findIndex((e) => e.split('=')[0] === k);
    if (i >= 0) list[i] = `${k}=${v}`;
    else list.push(`${k}=${v}`);
  }
  s.config.Env = list;
  return b.commitMetadata(s, `ENV ${kv.map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

async function label(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const kv = pairs(b, s, ins);
  s.config.Labels = { ...(s.config.Labels ?? {}) };
  for (const [k, v] of kv) s.config.Labels[k] = v;
  return b.commitMetadata(s, `LABEL ${kv.map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

async function arg(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const args = b.parseArgs(ins, b.envOf(s));
  for (const [k, v] of args) b.declareArg(s, k, v);
  return b.commitMetadata(s, `ARG ${args.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ')}`);
}

async function workdir(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const dir = b.expand(ins.rest, b.envOf(s));
  s.config.WorkingDir = path.posix.resolve(s.config.WorkingDir || '/', dir);
  const probe = copyRunConfig(s.config, { Cmd: [...b.shell(s), `#(nop) WORKDIR ${s.config.WorkingDir}`] });
  if (await b.probeCache(s, probe)) return;
  await b.inContainer(s, probe, probe.Cmd!, [], async (c) => {
    await c.withRootfs(async (rootfs) => mkdirInRoot(rootfs, s.config.WorkingDir));
    return c.layer();
  });
}

async function expose(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const env = b.envOf(s);
  const words = ins.rest
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => b.expand(w, env));
  if (words.length === 0) throw new BuildError('EXPOSE requires at least one argument');
  s.config.ExposedPorts = { ...(s.config.ExposedPorts ?? {}) };
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw new BuildError(`Invalid containerPort: ${w}`);
    const first = Number(m[1]);
    const last = m[2] ? Number(m[2]) : first;
    for (let p = first; p <= last; p++) s.config.ExposedPorts[`${p}/${(m[3] ?? 'tcp').toLowerCase()}`] = {};
  }
  return b.commitMetadata(s, `EXPOSE ${words.join(' ')}`);
}

async function volume(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const env = b.envOf(s);
  const vols = parseJSONOrWords(ins.rest).map((v) => b.expand(v, env).trim());
  if (vols.length === 0) throw new BuildError('VOLUME requires at least one argument');
  s.config.Volumes = { ...(s.config.Volumes ?? {}) };
  for (const v of vols) {
    if (!v) throw new BuildError('VOLUME specified can not be an empty string');
    s.config.Volumes[v] = {};
  }
  return b.commitMetadata(s, `VOLUME [${vols.join(' ')}]`);
}

async function onbuild(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const trigger = ins.rest.trim();
  const kw = trigger.split(/\s+/)[0]!.toUpperCase();
  if (kw === 'ONBUILD') throw new BuildError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (kw === 'FROM' || kw === 'MAINTAINER') throw new BuildError(`${kw} isn't allowed as an ONBUILD trigger`);
  s.config.OnBuild = [...(s.config.OnBuild ?? []), trigger];
  return b.commitMetadata(s, `ONBUILD ${trigger}`);
}

/** Go duration syntax (1m30s, 500ms) in nanoseconds. */
function parseDuration(flag: string, v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(v))) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== v.length) throw new BuildError(`time: invalid duration "${v}" for --${flag}`);
  return Math.round(total);
}

function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e9) return ns % 1e6 === 0 ? `${ns / 1e6}ms` : `${ns / 1e3}µs`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${Number(s.toFixed(9))}s`;
}

async function healthcheck(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const words = ins.rest.split(/\s+/);
  const kind = (words[0] ?? '').toUpperCase();
  let test: string[];
  if (kind === 'NONE') {
    test = ['NONE'];
  } else if (kind === 'CMD') {
    const rest = ins.rest.replace(/^\S+\s*/, '');
    const json = parseJSONArray(rest);
    test = json ? ['CMD', ...json] : ['CMD-SHELL', rest];
  } else {
    throw new BuildError(`Unknown type "${words[0]}" in HEALTHCHECK (try CMD)`);
  }
  const interval = parseDuration('interval', ins.flags.get('interval'));
  const timeout = parseDuration('timeout', ins.flags.get('timeout'));
  const start = parseDuration('start-period', ins.flags.get('start-period'));
  const retries = Number(ins.flags.get('retries') ?? 0);
  const hc: Record<string, unknown> = { Test: test };
  if (interval) hc.Interval = interval;
  if (timeout) hc.Timeout = timeout;
  if (start) hc.StartPeriod = start;
  if (retries) hc.Retries = retries;
  s.config.Healthcheck = hc;
  const rune = `'\\x${retries.toString(16).padStart(2, '0')}'`;
  const shown = `&{${goQuoteSlice(test)} "${formatDuration(interval)}" "${formatDuration(timeout)}" "${formatDuration(start)}" ${rune}}`;
  return b.commitMetadata(s, `HEALTHCHECK ${shown}`);
}
