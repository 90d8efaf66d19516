// Dockerfile parsing: dockerfile-ast finds the parser directives (escape) and where each
// instruction starts and ends; the logical line and its arguments are then read as Docker's
// classic parser reads them (continuation lines joined, comment lines inside them dropped,
// `--flags` first, JSON or shell forms per instruction).
import { DockerfileParser } from 'dockerfile-ast';
import { InvalidParameter } from '../errors.js';

export interface Instruction {
  /** Upper-case keyword: RUN, COPY, … */
  keyword: string;
  /** The logical line as written, for `Step N/M : …` and error messages. */
  original: string;
  /** `--name=value` flags before the arguments (value '' for a bare `--name`). */
  flags: Map<string, string>;
  /** Everything after the flags. */
  rest: string;
  /** 1-based line number of the instruction. */
  line: number;
}

export interface Stage {
  /** The FROM instruction. */
  from: Instruction;
  name?: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  escape: string;
  /** ARGs before the first FROM. */
  metaArgs: Instruction[];
  stages: Stage[];
}

const KNOWN = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

export function parseDockerfile(text: string): ParsedDockerfile {
  const df = DockerfileParser.parse(text);
  const escape = df.getEscapeCharacter() || '\\';
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  for (const ins of df.getInstructions()) {
    const range = ins.getRange();
    const raw = lines.slice(range.start.line, range.end.line + 1);
    raw[raw.length - 1] = raw[raw.length - 1]!.slice(0, range.end.character);
    raw[0] = raw[0]!.slice(range.start.character);
    instructions.push(parseLogicalLine(joinLines(raw, escape), range.start.line + 1));
  }
  return splitStages(instructions, escape);
}

/** Joins continuation lines as Docker does: the escape at line end goes, comment and blank lines inside are skipped. */
function joinLines(raw: string[], escape: string): string {
  const cont = new RegExp(`${escapeRegExp(escape)}[ \\t]*$`);
  let out = '';
  raw.forEach((l, i) => {
    let line = l.replace(/\r$/, '');
    if (i > 0 && (/^\s*#/.test(line) || line.trim() === '')) return;
    if (i === 0) line = line.replace(/^\s+/, '');
    if (cont.test(line)) line = line.replace(cont, '');
    out += line;
  });
  return out.trim();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function parseLogicalLine(original: string, line: number): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(original);
  if (!m) throw new InvalidParameter(`dockerfile parse error line ${line}: empty instruction`);
  const keyword = m[1]!.toUpperCase();
  if (!KNOWN.has(keyword))
    throw new InvalidParameter(`dockerfile parse error line ${line}: unknown instruction: ${m[1]!.toUpperCase()}`);
  let rest = m[2]!;
  const flags = new Map<string, string>();
  for (;;) {
    const f = /^--([A-Za-z0-9_-]+)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (!f || keyword === 'ONBUILD') break;
    flags.set(f[1]!, f[2] ?? '');
    rest = rest.slice(f[0].length);
  }
  return { keyword, original, flags, rest: rest.trim(), line };
}

function splitStages(instructions: Instruction[], escape: string): ParsedDockerfile {
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.rest.split(/\s+/).filter(Boolean);
      let name: string | undefined;
      if (words.length === 3 && words[1]!.toUpperCase() === 'AS') name = words[2]!.toLowerCase();
      else if (words.length !== 1) throw new InvalidParameter('FROM requires either one or three arguments');
      stages.push({ from: ins, name, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG')
        throw new InvalidParameter('Please provide a source image with `from` prior to commit');
      metaArgs.push(ins);
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new InvalidParameter('No image was generated. Is your Dockerfile empty?');
  return { escape, metaArgs, stages };
}

/** `["a","b"]` → the strings; anything else → undefined (shell form). A JSON array of non-strings is an error. */
export function parseJSONArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string'))
    throw new InvalidParameter('when using JSON array syntax, arrays must be comprised of strings only');
  return v as string[];
}

/** COPY/ADD/VOLUME: a JSON array or whitespace-separated words. */
export function parseJSONOrWords(rest: string): string[] {
  return parseJSONArray(rest) ?? rest.split(/\s+/).filter(Boolean);
}

/** Splits on whitespace outside quotes, keeping quotes and escapes in the words (Docker's parseWords). */
export function parseWords(rest: string, escape = '\\'): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (/\s/u.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/u.test(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      } else if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `k=v k2="v 2"` pairs, or the old `KEY value with spaces` form. */
export function parseNameVal(rest: string, keyword: string, escape = '\\'): [string, string][] {
  const words = parseWords(rest, escape);
  if (words.length === 0) throw new InvalidParameter(`${keyword} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const parts = rest.trim().split(/\s+/);
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m || parts.length < 2) throw new InvalidParameter(`${keyword} must have two arguments`);
    return [[m[1]!, m[2]!]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) throw new InvalidParameter(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}
