// A JSON scanner that records where each value starts and ends in the text,
// so the REST shape rule can copy untouched values verbatim instead of
// re-encoding them. Mirrors the scanner in gateway/lua/rest_shape.lua.

export type JsonNode =
  | { kind: 'object'; first: number; last: number; members: JsonMember[] }
  | { kind: 'array'; first: number; last: number; items: JsonNode[] }
  | { kind: 'string'; first: number; last: number; value: string }
  | { kind: 'number'; first: number; last: number; value: number }
  | { kind: 'literal'; first: number; last: number; value: boolean | null };

export interface JsonMember {
  key: string;
  /** Span of the key, quotes included. */
  keyFirst: number;
  keyLast: number;
  value: JsonNode;
}

/** `first` and `last` are inclusive indexes into the text. */
export function rawText(text: string, node: { first: number; last: number }): string {
  return text.slice(node.first, node.last + 1);
}

class JsonScanError extends Error {}

// Deeper texts are not JSON to this scanner (the call stack would run out on
// a body of nested brackets); protobuf's JSON parsers stop at 100 too.
const MAX_DEPTH = 100;

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Scans a whole JSON text; undefined if it is not valid JSON. */
export function scanJson(text: string): JsonNode | undefined {
  try {
    const [node, next] = scanValue(text, skipSpace(text, 0));
    if (skipSpace(text, next) < text.length) throw new JsonScanError('trailing characters');
    return node;
  } catch (error) {
    if (error instanceof JsonScanError) return undefined;
    throw error;
  }
}

export function memberNamed(node: JsonNode & { kind: 'object' }, key: string): JsonMember | undefined {
  return node.members.find((member) => member.key === key);
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && ' \t\r\n'.includes(text[i]!)) i += 1;
  return i;
}

function scanValue(text: string, i: number, depth = 0): [JsonNode, number] {
  const char = text[i];
  if ((char === '{' || char === '[') && depth >= MAX_DEPTH) throw new JsonScanError(`nested deeper than ${MAX_DEPTH} at ${i}`);
  if (char === '{') return scanObject(text, i, depth);
  if (char === '[') return scanArray(text, i, depth);
  if (char === '"') return scanString(text, i);
  if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return scanNumber(text, i);
  for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
    if (text.startsWith(word, i)) return [{ kind: 'literal', value, first: i, last: i + word.length - 1 }, i + word.length];
  }
  throw new JsonScanError(`unexpected character at ${i}`);
}

function scanObject(text: string, first: number, depth: number): [JsonNode, number] {
  const members: JsonMember[] = [];
  let i = skipSpace(text, first + 1);
  if (text[i] === '}') return [{ kind: 'object', members, first, last: i }, i + 1];
  for (;;) {
    if (text[i] !== '"') throw new JsonScanError(`expected a key at ${i}`);
    const [key, afterKey] = scanString(text, i);
    i = skipSpace(text, afterKey);
    if (text[i] !== ':') throw new JsonScanError(`expected ':' at ${i}`);
    const [value, afterValue] = scanValue(text, skipSpace(text, i + 1), depth + 1);
    members.push({ key: key.value as string, keyFirst: key.first, keyLast: key.last, value });
    i = skipSpace(text, afterValue);
    if (text[i] === '}') return [{ kind: 'object', members, first, last: i }, i + 1];
    if (text[i] !== ',') throw new JsonScanError(`expected ',' or '}' at ${i}`);
    i = skipSpace(text, i + 1);
  }
}

function scanArray(text: string, first: number, depth: number): [JsonNode, number] {
  const items: JsonNode[] = [];
  let i = skipSpace(text, first + 1);
  if (text[i] === ']') return [{ kind: 'array', items, first, last: i }, i + 1];
  for (;;) {
    const [item, next] = scanValue(text, i, depth + 1);
    items.push(item);
    i = skipSpace(text, next);
    if (text[i] === ']') return [{ kind: 'array', items, first, last: i }, i + 1];
    if (text[i] !== ',') throw new JsonScanError(`expected ',' or ']' at ${i}`);
    i = skipSpace(text, i + 1);
  }
}

function scanString(text: string, first: number): [JsonNode & { kind: 'string' }, number] {
  let value = '';
  let i = first + 1;
  for (;;) {
    if (i >= text.length) throw new JsonScanError(`unterminated string at ${first}`);
    const char = text[i]!;
    if (char === '"') return [{ kind: 'string', value, first, last: i }, i + 1];
    if (char < ' ') throw new JsonScanError(`control character in string at ${i}`);
    if (char !== '\\') {
      value += char;
      i += 1;
      continue;
    }
    const escape = text[i + 1] ?? '';
    if (escape in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[escape];
      i += 2;
    } else if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
      // UTF-16 code units: a surrogate pair decodes by concatenation.
      value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
      i += 6;
    } else {
      throw new JsonScanError(`bad escape at ${i}`);
    }
  }
}

function scanNumber(text: string, first: number): [JsonNode, number] {
  const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(text.slice(first));
  if (!match) throw new JsonScanError(`bad number at ${first}`);
  const last = first + match[0].length - 1;
  return [{ kind: 'number', value: Number(match[0]), first, last }, last + 1];
}
