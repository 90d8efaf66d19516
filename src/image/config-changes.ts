// `docker commit --change` / `docker import --change`: Dockerfile instructions applied to a
// container config. The changes are joined into one Dockerfile text and parsed as such
// (comments, line continuations), checked against the instructions a commit accepts, then
// applied in order, each expanding variables against the Env left by the ones before it.
import { posix } from 'node:path';
import { InvalidParameter } from '../errors.js';
import type { ImageRunConfig } from './types.js';
import { expandWord, splitWords } from './config-changes-lex.js';
import { parseHealthcheck } from './config-changes-health.js';

const COMMIT_INSTRUCTIONS = new Set([
  'cmd',
  'entrypoint',
  'healthcheck',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);

interface Instruction {
  name: string;
  rest: string;
  original: string;
}

/** Dockerfile logical lines: comments and blank lines dropped, `\` continuations joined. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (line.startsWith('#') || (cur === null && line === '')) continue;
    const m = /^(.*)\\\s*$/s.exec(line);
    if (m) {
      cur = (cur ?? '') + m[1];
      continue;
    }
    out.push((cur ?? '') + line);
    cur = null;
  }
  if (cur !== null && cur.trim() !== '') out.push(cur);
  return out;
}

function parseInstructions(changes: string[]): Instruction[] {
  return logicalLines(changes.join('\n')).map((line) => {
    const m = /^(\S+)\s*(.*)$/s.exec(line)!;
    return { name: m[1]!.toLowerCase(), rest: m[2]!.trim(), original: line };
  });
}

const err = (msg: string) => new InvalidParameter(msg);
const atLeastOne = (name: string) => err(`${name.toUpperCase()} requires at least one argument`);
const exactlyOne = (name: string) => err(`${name.toUpperCase()} requires exactly one argument`);

/** JSON form when the arguments are a JSON array of strings, else undefined (shell form). */
export function parseJsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

/** ENV and LABEL: `k=v k2="v 2"` or the legacy `k value with spaces`. */
function nameValues(ins: Instruction): [string, string][] {
  const words = splitWords(ins.rest);
  if (words.length === 0) throw atLeastOne(ins.name);
  if (!words[0]!.includes('=')) {
    const parts = ins.rest.split(/\s+/);
    if (parts.length < 2) throw err(`${ins.name.toUpperCase()} must have two arguments`);
    return [[parts[0]!, ins.rest.slice(parts[0]!.length).replace(/^\s+/, '')]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw err(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    if (eq === 0) throw err(`${ins.name.toUpperCase()} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

function shellOf(config: ImageRunConfig): string[] {
  return config.Shell && config.Shell.length > 0 ? [...config.Shell] : ['/bin/sh', '-c'];
}

/** CMD/ENTRYPOINT: the JSON form as is (an empty array means "unset"), the shell form wrapped. */
function commandLine(rest: string, config: ImageRunConfig): string[] | null {
  const json = parseJsonForm(rest);
  if (json) return json.length > 0 ? json : null;
  return [...shellOf(config), ...(rest === '' ? [] : [rest])];
}

function setEnv(config: ImageRunConfig, name: string, value: string): void {
  const env = [...(config.Env ?? [])];
  const i = env.findIndex((e) => e.split('=')[0] === name);
  if (i >= 0) env[i] = `${name}=${value}`;
  else env.push(`${name}=${value}`);
  config.Env = env;
}

function exposedPorts(specs: string[]): string[] {
  const out: string[] = [];
  for (const raw of specs) {
    const containerPort = raw.includes(':') ? raw.slice(raw.lastIndexOf(':') + 1) : raw;
    const [port = '', protoRaw = ''] = containerPort.split('/');
    const proto = (protoRaw || 'tcp').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw err(`Invalid proto: ${proto}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    const start = m ? Number(m[1]) : NaN;
    const end = m?.[2] !== undefined ? Number(m[2]) : start;
    if (!m || start > 65535 || end > 65535) throw err(`Invalid containerPort: ${port}`);
    if (end < start) throw err(`Invalid range specified for containerPort: ${port}`);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'UNUSED',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
]);

function checkSignal(raw: string): void {
  if (/^-?\d+$/.test(raw)) {
    if (Number(raw) === 0) throw err(`Invalid signal: ${raw}`);
    return;
  }
  const name = raw.toUpperCase().replace(/^SIG/, '');
  if (!SIGNALS.has(name) && !/^RT(MIN|MAX)[+-]\d+$/.test(name)) throw err(`Invalid signal: ${raw}`);
}

function dispatch(ins: Instruction, c: ImageRunConfig, state: { cmdSet: boolean }): void {
  const expand = (w: string) => {
    try {
      return expandWord(w, c.Env ?? []);
    } catch (e) {
      throw err((e as Error).message);
    }
  };
  switch (ins.name) {
    case 'env': {
      const pairs = nameValues(ins).map(([k, v]) => [expand(k), expand(v)] as const);
      for (const [k, v] of pairs) setEnv(c, k, v);
      return;
    }
    case 'label': {
      const pairs = nameValues(ins).map(([k, v]) => [expand(k), expand(v)] as const);
      c.Labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of pairs) c.Labels[k] = v;
      return;
    }
    case 'expose': {
      const words = ins.rest.split(/\s+/).filter(Boolean);
      if (words.length === 0) throw atLeastOne(ins.name);
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of exposedPorts(words.map(expand))) c.ExposedPorts[p] = {};
      return;
    }
    case 'cmd':
      c.Cmd = commandLine(ins.rest, c);
      state.cmdSet = true;
      return;
    case 'entrypoint':
      c.Entrypoint = commandLine(ins.rest, c);
      // A new entrypoint drops the old command unless this same set of changes gave one.
      if (!state.cmdSet) c.Cmd = null;
      return;
    case 'workdir': {
      if (ins.rest === '') throw exactlyOne(ins.name);
      const dir = expand(ins.rest);
      c.WorkingDir = dir.startsWith('/') ? posix.normalize(dir) : posix.join('/', c.WorkingDir || '/', dir);
      if (c.WorkingDir.length > 1) c.WorkingDir = c.WorkingDir.replace(/\/$/, '');
      return;
    }
    case 'user':
      if (ins.rest === '') throw exactlyOne(ins.name);
      c.User = expand(ins.rest);
      return;
    case 'stopsignal': {
      if (ins.rest === '') throw exactlyOne(ins.name);
      const sig = expand(ins.rest);
      checkSignal(sig);
      c.StopSignal = sig;
      return;
    }
    case 'volume': {
      const list = parseJsonForm(ins.rest) ?? ins.rest.split(/\s+/).filter(Boolean);
      if (list.length === 0) throw atLeastOne(ins.name);
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of list) {
        const path = expand(v).trim();
        if (path === '') throw err('VOLUME specified can not be an empty string');
        c.Volumes[path] = {};
      }
      return;
    }
    case 'onbuild': {
      if (ins.rest === '') throw atLeastOne(ins.name);
      const trigger = ins.rest.split(/\s+/)[0]!.toUpperCase();
      if (trigger === 'ONBUILD') throw err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'FROM' || trigger === 'MAINTAINER') throw err(`${trigger} isn't allowed as an ONBUILD trigger`);
      c.OnBuild = [...(c.OnBuild ?? []), ins.original.replace(/^\s*onbuild\s+/i, '').trim()];
      return;
    }
    case 'healthcheck':
      c.Healthcheck = parseHealthcheck(ins.rest, parseJsonForm);
      return;
  }
}

/**
 * Applies `changes` to a copy of `config`. Errors (unknown or invalid instructions) are
 * InvalidParameter with Docker's words; nothing is applied unless every change is valid.
 */
export function applyConfigChanges(config: ImageRunConfig, changes: string[]): ImageRunConfig {
  if (changes.length === 0) return config;
  const instructions = parseInstructions(changes);
  for (const ins of instructions) {
    if (!COMMIT_INSTRUCTIONS.has(ins.name)) throw err(`${ins.name} is not a valid change command`);
  }
  const out: ImageRunConfig = structuredClone(config);
  const state = { cmdSet: false };
  for (const ins of instructions) dispatch(ins, out, state);
  return out;
}
