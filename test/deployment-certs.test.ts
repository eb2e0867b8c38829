import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `make certs` (scripts/make-certs.sh): a local CA and a certificate for
// localhost that Envoy's TLS listener serves (docker-compose.yml mounts the
// folder at /etc/taskproc/tls). Run here with the machine's openssl, into a
// folder of this test's own.

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

let work: string;
let dir: string;
const file = (name: string) => join(dir, name);
const makeCerts = () => run('make', ['-s', 'certs', `CERTS_DIR=${dir}`], { cwd: ROOT });
const contents = async () => Object.fromEntries(await Promise.all(['ca.key', 'ca.crt', 'server.key', 'server.crt'].map(async (name) => [name, await readFile(file(name), 'utf8')])));

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'taskproc-certs-'));
  dir = join(work, 'certs');
  await makeCerts();
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('make certs', () => {
  it('makes a server certificate that verifies against the CA it made (openssl verify)', async () => {
    const { stdout } = await run('openssl', ['verify', '-CAfile', file('ca.crt'), file('server.crt')]);
    expect(stdout.trim()).toBe(`${file('server.crt')}: OK`);
  });

  it('names localhost, 127.0.0.1, ::1 and the compose service envoy, for serving only', async () => {
    const server = new X509Certificate(await readFile(file('server.crt')));
    expect(server.subjectAltName).toBe('DNS:localhost, DNS:envoy, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.ca).toBe(false);
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const ca = new X509Certificate(await readFile(file('ca.crt')));
    expect(ca.ca).toBe(true);
    expect(server.checkIssued(ca)).toBe(true);
    expect(new Date(server.validTo).getTime()).toBeGreaterThan(Date.now() + 365 * 86_400_000);
  });

  it('pairs the certificate with its key, and leaves both keys readable by their owner only', async () => {
    const server = new X509Certificate(await readFile(file('server.crt')));
    const key = createPrivateKey(await readFile(file('server.key')));
    expect(createPublicKey(key).export({ format: 'pem', type: 'spki' })).toBe(server.publicKey.export({ format: 'pem', type: 'spki' }));
    for (const name of ['ca.key', 'server.key']) expect(((await stat(file(name))).mode & 0o777).toString(8), name).toBe('600');
    for (const name of ['ca.crt', 'server.crt']) expect(((await stat(file(name))).mode & 0o777).toString(8), name).toBe('644');
  });

  it('changes nothing when run again', async () => {
    const before = await contents();
    const { stdout } = await makeCerts();
    expect(stdout).toContain('is current');
    expect(await contents()).toEqual(before);
  });

  it('makes the server certificate again, with the same CA, when it is missing or no longer the CA\'s', async () => {
    const before = await contents();
    await unlink(file('server.crt'));
    await makeCerts();
    const remade = await contents();
    expect(remade['ca.crt']).toBe(before['ca.crt']);
    expect(remade['server.crt']).not.toBe(before['server.crt']);
    await run('openssl', ['verify', '-CAfile', file('ca.crt'), file('server.crt')]);

    // A certificate from another CA (say, a copied folder) is replaced.
    const other = join(work, 'other');
    await run('make', ['-s', 'certs', `CERTS_DIR=${other}`], { cwd: ROOT });
    await writeFile(file('server.crt'), await readFile(join(other, 'server.crt')));
    await writeFile(file('server.key'), await readFile(join(other, 'server.key')));
    await makeCerts();
    await run('openssl', ['verify', '-CAfile', file('ca.crt'), file('server.crt')]);
    expect((await contents())['ca.crt']).toBe(before['ca.crt']);
  });

  it('is what docker-compose.yml mounts into Envoy, and is kept out of git and the image', async () => {
    const makefile = await readFile(join(ROOT, 'make/certs.mk'), 'utf8');
    expect(makefile).toMatch(/^CERTS_DIR \?= \.run\/certs$/m);
    expect(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8')).toContain('${TASKPROC_TLS_DIR:-./.run/certs}:/etc/taskproc/tls:ro');
    await run('git', ['check-ignore', '-q', '.run/certs/server.key'], { cwd: ROOT });
    expect(await readFile(join(ROOT, '.dockerignore'), 'utf8')).toMatch(/^\.run$/m);
  });
});
