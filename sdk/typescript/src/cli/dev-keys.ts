import { readFile } from 'node:fs/promises';
import { devKeyFiles, ensureDevSigningKey, rotateDevSigningKey, signDevToken } from '../dev-tokens.js';
import type { CliArguments } from './arguments.js';
import type { CliIo } from './taskctl.js';

// taskctl token and taskctl keys: development tokens signed with the local
// key pair that `make start AUTH_MODE=jwt` makes (and task-api verifies
// against its jwks.json). Nothing here talks to task-api.

/** The signing key is missing or unusable; the message says what to run. */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

/** taskctl token: one line, the token, so that `$(taskctl token ...)` is the token. */
export async function printToken(args: CliArguments, io: CliIo): Promise<void> {
  const { signingKeyFile } = devKeyFiles(args.keyDir);
  let token: string;
  try {
    token = await signDevToken({ signingKeyFile, tenant: args.tenant!, ttlSeconds: args.ttlSeconds });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SigningKeyError(`no signing key in ${args.keyDir}: run \`make start AUTH_MODE=jwt\` or \`taskctl keys init\``);
    }
    throw new SigningKeyError(
      `the signing key ${signingKeyFile} is not usable (${error instanceof Error ? error.message : String(error)}): ` +
        'make a new one with `taskctl keys rotate`',
    );
  }
  io.stdout.write(args.json ? `${JSON.stringify({ token, tenant: args.tenant, expires_in: args.ttlSeconds })}\n` : `${token}\n`);
}

/** taskctl keys init | rotate. */
export async function manageKeys(args: CliArguments, io: CliIo): Promise<void> {
  const made = args.operand === 'rotate' ? { ...(await rotateDevSigningKey(args.keyDir)), created: true } : await ensureDevSigningKey(args.keyDir);
  const kid = await signingKeyId(made.signingKeyFile);
  const jwks = JSON.parse(await readFile(made.jwksFile, 'utf8')) as { keys: unknown[] };
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ kid, created: made.created, signing_key_file: made.signingKeyFile, jwks_file: made.jwksFile, public_keys: jwks.keys.length })}\n`,
    );
    return;
  }
  const what = args.operand === 'rotate' ? 'new signing key' : made.created ? 'made a signing key' : 'signing key already there';
  io.stdout.write(
    [
      `${what}: ${made.signingKeyFile} (kid ${kid})`,
      `public keys: ${made.jwksFile} (${jwks.keys.length}, newest first; task-api reads it as AUTH_JWKS_FILE)`,
      ...(args.operand === 'rotate'
        ? ['new tokens are signed with the new key; tokens of the earlier keys stay valid until they expire (jwks.json keeps the newest 3)']
        : []),
      '',
    ].join('\n'),
  );
}

async function signingKeyId(file: string): Promise<string> {
  return (JSON.parse(await readFile(file, 'utf8')) as { kid: string }).kid;
}
