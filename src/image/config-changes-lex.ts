// The Dockerfile word rules `docker commit --change` needs: splitting an instruction's
// arguments into words (quotes kept, as the Dockerfile parser does) and expanding one word
// against the config's Env (quotes and escapes removed, $VAR / ${VAR} / ${VAR:-x} / ${VAR:+x}).

/** Splits on whitespace outside quotes; quotes and backslash escapes stay in the words. */
export function splitWords(rest: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i]!;
    if (!quote && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === '\\' && i + 1 < rest.length) {
      word += ch + rest[++i];
      continue;
    }
    if (quote && ch === quote) quote = '';
    else if (!quote && (ch === '"' || ch === "'")) quote = ch;
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}

function lookup(env: string[], name: string): string | undefined {
  // The last definition wins, as in the shell.
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    const eq = e.indexOf('=');
    if ((eq < 0 ? e : e.slice(0, eq)) === name) return eq < 0 ? '' : e.slice(eq + 1);
  }
  return undefined;
}

/** Expands one word: removes quotes and escapes, substitutes variables (no word splitting). */
export function expandWord(word: string, env: string[]): string {
  let out = '';
  let i = 0;
  const variable = (): string => {
    // At `$`.
    i++;
    if (word[i] === '{') {
      const close = word.indexOf('}', i);
      if (close < 0) throw new Error(`missing '}' in '${word}'`);
      const body = word.slice(i + 1, close);
      i = close + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$/s.exec(body);
      if (!m) throw new Error(`bad substitution: \${${body}}`);
      const [, name, op, arg = ''] = m;
      const value = lookup(env, name!);
      const set = value !== undefined && (value !== '' || !op?.startsWith(':'));
      switch (op?.replace(':', '')) {
        case '-':
          return set ? value! : expandWord(arg, env);
        case '+':
          return set ? expandWord(arg, env) : '';
        case '?':
          if (!set) throw new Error(`${name}: ${arg || 'is not allowed to be unset'}`);
          return value!;
        default:
          return value ?? '';
      }
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i));
    if (!m) return '$';
    i += m[0].length;
    return lookup(env, m[0]) ?? '';
  };
  while (i < word.length) {
    const ch = word[i]!;
    if (ch === "'") {
      const close = word.indexOf("'", i + 1);
      const end = close < 0 ? word.length : close;
      out += word.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      while (i < word.length && word[i] !== '"') {
        const c = word[i]!;
        if (c === '\\' && i + 1 < word.length && '"$\\`'.includes(word[i + 1]!)) {
          out += word[i + 1];
          i += 2;
        } else if (c === '$') out += variable();
        else {
          out += c;
          i++;
        }
      }
      i++;
    } else if (ch === '\\') {
      out += word[i + 1] ?? '';
      i += 2;
    } else if (ch === '$') {
      out += variable();
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}
