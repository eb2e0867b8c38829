import { createLocalJWKSet } from 'jose';
import { readFileSync } from 'node:fs';
import { ensureDevSigningKey, signDevToken, devKeyFiles, DEV_AUTH } from '@taskproc/client/dev-tokens';
import { createTokenVerifier } from '../../services/task-api/src/auth/token-verifier.js';

// CPU per call of task-api's bearer-token check with AUTH_MODE=jwt (an
// ES256 signature verified per request, as the auth interceptor does),
// without the network or the RPC framework. Usage:
//   node --conditions=development --import tsx bench/micro/token-verify.ts [calls] [key dir]

const calls = Number(process.argv[2] ?? 20_000);
const dir = process.argv[3] ?? '.run/bench/micro-keys';
await ensureDevSigningKey(dir);
const files = devKeyFiles(dir);
const token = await signDevToken({ signingKeyFile: files.signingKeyFile, tenant: 'acme', ttlSeconds: 3600 });
const jwks = createLocalJWKSet(JSON.parse(readFileSync(files.jwksFile, 'utf8')));
const verifier = createTokenVerifier({ issuer: DEV_AUTH.issuer, audience: DEV_AUTH.audience, tenantClaim: DEV_AUTH.tenantClaim, clockSkewSeconds: 30 }, jwks);
const header = `Bearer ${token}`;
for (let i = 0; i < 2_000; i++) await verifier.verify(header); // warm-up
const before = process.cpuUsage();
for (let i = 0; i < calls; i++) await verifier.verify(header);
const cpu = process.cpuUsage(before);
process.stderr.write(`ES256 bearer token verified: ${((cpu.user + cpu.system) / calls).toFixed(1)} µs CPU per call (${calls} calls)\n`);
