// google.api.http path templates (google/api/http.proto):
//   Template = "/" Segments [ Verb ] ;  Segment = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;  Verb = ":" LITERAL ;
// parsed and matched the way Envoy's transcoder (grpc-httpjson-transcoding's
// path matcher) does for the cases this project uses.

export class PathTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`path template ${JSON.stringify(template)}: ${problem}`);
    this.name = 'PathTemplateError';
  }
}

type Segment = { kind: 'literal'; text: string } | { kind: 'single' } | { kind: 'rest' };

interface Variable {
  fieldPath: string;
  /** Index of the variable's first segment. */
  start: number;
  /** Index after its last segment. */
  end: number;
}

export interface PathTemplate {
  source: string;
  segments: readonly Segment[];
  variables: readonly Variable[];
  verb: string | undefined;
}

const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export function parsePathTemplate(source: string): PathTemplate {
  if (!source.startsWith('/')) throw new PathTemplateError(source, 'must start with "/"');
  let body = source.slice(1);
  let verb: string | undefined;
  const lastSlash = body.lastIndexOf('/');
  const verbAt = body.indexOf(':', Math.max(lastSlash, body.lastIndexOf('}')));
  if (verbAt >= 0) {
    verb = body.slice(verbAt + 1);
    body = body.slice(0, verbAt);
  }
  const segments: Segment[] = [];
  const variables: Variable[] = [];
  for (const token of splitOutsideBraces(source, body)) {
    const variable = /^\{([^=}]+)(?:=(.*))?\}$/.exec(token);
    if (variable) {
      const [, fieldPath = '', inner = '*'] = variable;
      if (!FIELD_PATH.test(fieldPath)) throw new PathTemplateError(source, `bad field path ${fieldPath}`);
      const start = segments.length;
      for (const part of inner.split('/')) segments.push(parseSegment(source, part));
      variables.push({ fieldPath, start, end: segments.length });
    } else {
      segments.push(parseSegment(source, token));
    }
  }
  const restAt = segments.findIndex((segment) => segment.kind === 'rest');
  if (restAt >= 0 && restAt !== segments.length - 1) throw new PathTemplateError(source, '"**" must be the last segment');
  return { source, segments, variables, verb };
}

function splitOutsideBraces(source: string, body: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of body) {
    if (char === '{') depth += 1;
    if (char === '}') depth -= 1;
    if (depth < 0 || depth > 1) throw new PathTemplateError(source, 'unbalanced braces');
    if (char === '/' && depth === 0) {
      tokens.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (depth !== 0) throw new PathTemplateError(source, 'unbalanced braces');
  tokens.push(current);
  return tokens;
}

function parseSegment(source: string, text: string): Segment {
  if (text === '*') return { kind: 'single' };
  if (text === '**') return { kind: 'rest' };
  if (text === '' || /[{}*]/.test(text)) throw new PathTemplateError(source, `bad segment ${JSON.stringify(text)}`);
  return { kind: 'literal', text };
}

/**
 * Matches a request path (without its query string). Returns each variable's
 * field path and value, or undefined when the path does not match. Values are
 * percent-decoded except for reserved characters, as the transcoder's default
 * url_unescape_spec (ALL_CHARACTERS_EXCEPT_RESERVED) does.
 */
export function matchPathTemplate(template: PathTemplate, path: string): [string, string][] | undefined {
  if (!path.startsWith('/')) return undefined;
  let parts = path.slice(1).split('/');
  if (template.verb !== undefined) {
    const last = parts[parts.length - 1]!;
    const suffix = `:${template.verb}`;
    if (!last.endsWith(suffix)) return undefined;
    parts = [...parts.slice(0, -1), last.slice(0, -suffix.length)];
  }
  const { segments } = template;
  const hasRest = segments[segments.length - 1]?.kind === 'rest';
  if (hasRest ? parts.length < segments.length - 1 : parts.length !== segments.length) return undefined;
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i]!;
    if (segment.kind === 'literal' && parts[i] !== segment.text) return undefined;
  }
  return template.variables.map(({ fieldPath, start, end }) => {
    const isRest = end === segments.length && hasRest;
    const taken = isRest ? parts.slice(start) : parts.slice(start, end);
    return [fieldPath, decodeExceptReserved(taken.join('/'))];
  });
}

/** Characters RFC 6570 calls reserved: left percent-encoded in variable values. */
const RESERVED = new Set('!#$&\'()*+,/:;=?@[]'.split('').map((char) => char.charCodeAt(0)));

export function decodeExceptReserved(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = run.slice(1).split('%').map((hex) => parseInt(hex, 16));
    let out = '';
    let pending: number[] = [];
    const flush = () => {
      out += new TextDecoder().decode(new Uint8Array(pending));
      pending = [];
    };
    for (const byte of bytes) {
      if (RESERVED.has(byte)) {
        flush();
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      } else {
        pending.push(byte);
      }
    }
    flush();
    return out;
  });
}

/** Literal segments first: more specific templates win, as in the transcoder's matcher. */
export function specificity(template: PathTemplate): number {
  return template.segments.filter((segment) => segment.kind === 'literal').length;
}
