// JSON with the bytes Go's encoding/json writes, for clients that compare answers byte for
// byte: Go escapes U+2028 and U+2029 always and, unless an encoder turns it off, <, > and &.
// dockerd turns it off for its JSON answers (httputils.WriteJSON) and leaves it on for what it
// streams (events, jsonmessage progress and build output). These characters can stand only
// inside strings in JSON text, where \uXXXX means the same character: the value is unchanged.

const HTML_AND_SEPARATORS = /[<>&\u2028\u2029]/g;
const SEPARATORS = /[\u2028\u2029]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON.stringify as Go's json.Marshal writes it; escapeHtml false as an encoder with SetEscapeHTML(false). */
export function goJson(value: unknown, escapeHtml = true): string {
  const text = JSON.stringify(value);
  // undefined (nothing to write) stays undefined, as JSON.stringify gives it.
  if (text === undefined) return text as unknown as string;
  return text.replace(escapeHtml ? HTML_AND_SEPARATORS : SEPARATORS, escape);
}
