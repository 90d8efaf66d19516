// Dockerfile word expansion: the small subset of POSIX shell that Docker applies to ENV, LABEL,
// COPY, WORKDIR, … arguments ($VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}, ${VAR?msg}, quotes and
// the escape character). RUN/CMD/ENTRYPOINT are not expanded here: their shell does it.
// Variables are looked up in `env` ("NAME=value" strings); the first match wins, so callers put
// ENV before build args. Unset variables expand to nothing.

class Scanner {
  private pos = 0;
  constructor(private readonly runes: string[]) {}
  peek(): string | undefined {
    return this.runes[this.pos];
  }
  next(): string | undefined {
    return this.runes[this.pos++];
  }
}

const isSpace = (ch: string) => /\s/u.test(ch);
const isLetter = (ch: string) => /\p{L}/u.test(ch);
const isDigit = (ch: string) => /\p{Nd}/u.test(ch);
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Collects words the way the shell splits unquoted expansion results. */
class Words {
  private word = '';
  private words: string[] = [];
  private inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  getWords(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly sc: Scanner;
  constructor(
    word: string,
    private readonly env: string[],
    private readonly escape: string,
  ) {
    this.sc = new Scanner(Array.from(word));
  }

  process(): { result: string; words: string[] } {
    return this.processStopOn(undefined);
  }

  private processStopOn(stop: string | undefined): { result: string; words: string[] } {
    let result = '';
    const words = new Words();
    while (this.sc.peek() !== undefined) {
      const ch = this.sc.peek()!;
      if (stop !== undefined && ch === stop) {
        this.sc.next();
        return { result, words: words.getWords() };
      }
      if (ch === "'" || ch === '"' || ch === '$') {
        const tmp =
          ch === "'" ? this.processSingleQuote() : ch === '"' ? this.processDoubleQuote() : this.processDollar();
        result += tmp;
        if (ch === '$') words.addString(tmp);
        else words.addRawString(tmp);
        continue;
      }
      let c = this.sc.next()!;
      if (c === this.escape) {
        const escaped = this.sc.next();
        // An escape at the very end is dropped.
        if (escaped === undefined) break;
        c = escaped;
        words.addRawChar(c);
      } else {
        words.addChar(c);
      }
      result += c;
    }
    if (stop !== undefined) throw new Error(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: words.getWords() };
  }

  /** Everything up to the next ' is literal; ' itself cannot be escaped inside. */
  private processSingleQuote(): string {
    let result = '';
    this.sc.next();
    for (;;) {
      const ch = this.sc.next();
      if (ch === undefined) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result;
      result += ch;
    }
  }

  /** Literal except $ expansions; the escape character only escapes ", $ and itself. */
  private processDoubleQuote(): string {
    let result = '';
    this.sc.next();
    for (;;) {
      const ch = this.sc.peek();
      if (ch === undefined) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.sc.next();
        return result;
      }
      if (ch === '$') {
        result += this.processDollar();
        continue;
      }
      let c = this.sc.next()!;
      if (c === this.escape) {
        const nx = this.sc.peek();
        if (nx === undefined) continue;
        if (nx === '"' || nx === '$' || nx === this.escape) c = this.sc.next()!;
      }
      result += c;
    }
  }

  private processDollar(): string {
    this.sc.next();
    if (this.sc.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      return this.getEnv(name) ?? '';
    }
    this.sc.next();
    const first = this.sc.peek();
    if (first === undefined) throw new Error("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new Error('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.sc.next();
    if (ch === '}') return this.getEnv(name) ?? '';
    if (ch === undefined) throw new Error("syntax error: missing '}'");
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.sc.next();
    }
    if (ch !== '+' && ch !== '-' && ch !== '?') {
      if (!nullIsUnset) throw new Error(`missing ':' in substitution`);
      throw new Error(`unsupported modifier (${ch ?? ''}) in substitution`);
    }
    let word: string;
    try {
      word = this.processStopOn('}').result;
    } catch (err) {
      if (this.sc.peek() === undefined) throw new Error("syntax error: missing '}'");
      throw err;
    }
    const value = this.getEnv(name);
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      default: // '?'
        if (value === undefined) throw new Error(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new Error(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
    }
  }

  /** A variable name; positional ($1, $123) and special ($@, $#, …) parameters are never set. */
  private processName(): string {
    let name = '';
    while (this.sc.peek() !== undefined) {
      const ch = this.sc.peek()!;
      if (name.length === 0 && isDigit(ch)) {
        while (this.sc.peek() !== undefined && isDigit(this.sc.peek()!)) name += this.sc.next();
        return name;
      }
      if (name.length === 0 && SPECIAL_PARAMS.has(ch)) return this.sc.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.sc.next();
    }
    return name;
  }

  private getEnv(name: string): string | undefined {
    for (const kv of this.env) {
      const i = kv.indexOf('=');
      if (i < 0) {
        if (kv === name) return '';
        continue;
      }
      if (kv.slice(0, i) === name) return kv.slice(i + 1);
    }
    return undefined;
  }
}

/** Expands one word (quotes removed, variables substituted) into a single string. */
export function processWord(word: string, env: string[], escape = '\\'): string {
  return new ShellWord(word, env, escape).process().result;
}

/** Expands a line into words, splitting unquoted expansion results on whitespace. */
export function processWords(line: string, env: string[], escape = '\\'): string[] {
  return new ShellWord(line, env, escape).process().words;
}
