import { readFileSync } from 'node:fs';
import { DockerfileParser, JSONInstruction, type Instruction } from 'dockerfile-ast';

// A Dockerfile as its build stages, for test/deployment.test.ts.

export interface Copy {
  /** Stage name (or image) of --from; null when copying from the build context. */
  from: string | null;
  sources: string[];
  destination: string;
}

export interface Stage {
  name: string | null;
  /** The base image or earlier stage, with global ARG defaults substituted. */
  base: string;
  copies: Copy[];
  /** The exec-form CMD, if the stage sets one. */
  cmd: string[] | null;
  /** The last USER set in this stage, or null. */
  user: string | null;
  /** The shell commands of its RUN instructions, continuation lines joined. */
  runs: string[];
}

export function readDockerfile(path: string): Stage[] {
  const dockerfile = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = instruction.getArgumentsContent()!.split('=');
      globalArgs.set(name!, value);
    } else if (keyword === 'FROM') {
      const words = values(instruction).filter((word) => !word.startsWith('--'));
      const base = words[0]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => globalArgs.get(name) ?? '');
      const asAt = words.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({ name: asAt >= 0 ? words[asAt + 1]! : null, base, copies: [], cmd: null, user: null, runs: [] });
    } else if (stages.length > 0) {
      const stage = stages.at(-1)!;
      if (keyword === 'COPY' || keyword === 'ADD') stage.copies.push(copyOf(instruction));
      if (keyword === 'CMD') stage.cmd = JSON.parse(instruction.getArgumentsContent()!) as string[];
      if (keyword === 'USER') stage.user = values(instruction)[0]!;
      if (keyword === 'RUN') stage.runs.push(values(instruction).join(' '));
    }
  }
  return stages;
}

function copyOf(instruction: Instruction): Copy {
  // COPY and ADD parse as JSONInstruction, which knows their --flags.
  const flags = instruction instanceof JSONInstruction ? instruction.getFlags() : [];
  const from = flags.find((flag) => flag.getName() === 'from')?.getValue() ?? null;
  const paths = values(instruction).filter((word) => !word.startsWith('--'));
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

function values(instruction: Instruction): string[] {
  return instruction.getArguments().map((argument) => argument.getValue());
}

/** The patterns of a .dockerignore file (comments and blanks dropped). */
export function readDockerignore(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Whether a context path is excluded by .dockerignore patterns (Go
 * filepath.Match plus `**`; the last matching pattern wins; `!` re-includes).
 * A path is also excluded when one of its parent folders is.
 */
export function isIgnored(path: string, patterns: string[]): boolean {
  const segments = path.replace(/^\.\//, '').replace(/\/$/, '').split('/');
  for (let depth = 1; depth <= segments.length; depth += 1) {
    const prefix = segments.slice(0, depth).join('/');
    let ignored = false;
    for (const pattern of patterns) {
      const negated = pattern.startsWith('!');
      if (globToRegExp(negated ? pattern.slice(1) : pattern).test(prefix)) ignored = !negated;
    }
    if (ignored) return true;
  }
  return false;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/^\/+/, '')
    .split('/')
    .map((part) =>
      part === '**'
        ? '(?:.*)'
        : part.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'),
    )
    .join('/')
    .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
  return new RegExp(`^${body}$`);
}
