import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCases, judge, type BadCase, type Target } from '../lib/bad-input.js';
import { Http2Raw, http1Request, type RawResponse } from '../lib/raw-http.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';

const PER_TARGET: Record<Target, number> = { rest: 1_500, connect: 600, grpc: 600, 'grpc-web': 300 };
const CONCURRENCY = 16;

/**
 * A few thousand generated bad requests: REST through the gateway, and
 * Connect, gRPC and gRPC-Web straight to task-api (malformed JSON, wrong
 * types, huge bodies, invalid UUIDs, unknown fields, wrong methods and
 * paths, broken gRPC framing). None may be answered 5xx (for gRPC: a status
 * Envoy maps to 5xx), no error body may carry a stack trace, SQL or a driver
 * message, REST error bodies must be google.rpc.Status JSON, and requests
 * with an answer the contract names (400, 404, 413) must get it.
 */
export const badInput: Scenario = {
  id: '10-bad-input',
  title: 'bad input over REST, Connect, gRPC and gRPC-Web',
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(1);
    const perTarget = { ...PER_TARGET };
    if (!system.clients.rest) {
      ctx.fail('gateway/src/main.ts is missing: the REST half did not run');
      perTarget.rest = 0;
    }
    const seed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const cases = generateCases(seed, perTarget);
    ctx.note(`seed ${seed} (FAULTS_SEED=${seed} repeats this run's requests)`);

    const apiPort = Number(system.env.TASK_API_PORT);
    const gatewayPort = Number(system.env.GATEWAY_PORT);
    const h2 = new Http2Raw(apiPort);
    const send = (c: BadCase): Promise<RawResponse> =>
      c.target === 'grpc' ? h2.request(c.request) : http1Request(c.target === 'rest' ? gatewayPort : apiPort, c.request);

    const tally = new Tally();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const sentAt = Date.now();
          const response = await send(c);
          tally.add(c, response);
          recordAcceptedCreate(ctx, c, response, sentAt);
        }
      }),
    );
    h2.close();
    tally.report(ctx);
    writeFileSync(join(ctx.logDir, 'bad-input-answers.json'), `${JSON.stringify(tally.byFamily(), null, 2)}\n`);
  },
};

/** A "bad" request the system accepted (e.g. an unknown field it ignores) created a task; the checker must see it. */
function recordAcceptedCreate(ctx: ScenarioContext, c: BadCase, response: RawResponse, sentAt: number): void {
  if (c.target !== 'rest' || c.request.method !== 'POST' || response.status !== 201) return;
  let id: string | undefined;
  try {
    id = (JSON.parse(response.body) as { id?: string }).id;
  } catch {
    // reported as a success without an id by the checker
  }
  ctx.record.submissions.push({
    content: '(bad-input case)',
    via: 'rest',
    sentAt,
    answeredAt: Date.now(),
    answer: { answer: 'OK', ok: true, unavailable: false, serverError: false, taskId: id },
  });
}

interface Example {
  family: string;
  status: number;
  grpcStatus?: string;
  body: string;
}

class Tally {
  private readonly counts = { total: 0, fiveXx: 0, libraryCode: 0, leaks: 0, badShape: 0, deviations: 0, noAnswer: 0 };
  private readonly byTarget = new Map<Target, number>();
  private corrupt = 0;
  private readonly statuses = new Map<string, number>();
  private readonly families = new Map<string, Map<string, number>>();
  private readonly examples = { fiveXx: [] as Example[], leaks: [] as Example[], badShape: [] as Example[], deviations: [] as Example[], noAnswer: [] as Example[] };

  add(c: BadCase, response: RawResponse): void {
    const verdict = judge(c, response);
    this.counts.total++;
    this.byTarget.set(c.target, (this.byTarget.get(c.target) ?? 0) + 1);
    const grpcStatus = response.trailers['grpc-status'] ?? response.headers['grpc-status'];
    const key = `${c.target} ${response.status}${grpcStatus !== undefined ? `/grpc-status ${grpcStatus}` : ''}`;
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
    const family = this.families.get(c.family) ?? new Map<string, number>();
    family.set(key, (family.get(key) ?? 0) + 1);
    this.families.set(c.family, family);
    const example: Example = {
      family: c.family,
      status: response.status,
      grpcStatus,
      body: (response.body || response.trailers['grpc-message'] || response.headers['grpc-message'] || response.error || '').slice(0, 200),
    };
    const keep = (list: Example[]) => list.length < 4 && !list.some((e) => e.family === example.family) && list.push(example);
    if (verdict.fiveXx) (this.counts.fiveXx++, keep(this.examples.fiveXx));
    if (verdict.libraryCode) this.counts.libraryCode++;
    if (c.corrupt) this.corrupt++;
    if (verdict.leak) (this.counts.leaks++, keep(this.examples.leaks));
    if (verdict.badShape) (this.counts.badShape++, keep(this.examples.badShape));
    if (verdict.deviation) (this.counts.deviations++, keep(this.examples.deviations));
    if (verdict.noAnswer) (this.counts.noAnswer++, keep(this.examples.noAnswer));
  }

  /** Answers per request family, for the scenario's log directory. */
  byFamily(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.families].sort().map(([family, answers]) => [family, Object.fromEntries(answers)]));
  }

  report(ctx: ScenarioContext): void {
    const { total, fiveXx, libraryCode, leaks, badShape, deviations, noAnswer } = this.counts;
    ctx.countBadInput5xx(fiveXx);
    ctx.note(`${total} bad requests: ${[...this.byTarget].map(([t, n]) => `${t} ${n}`).join(', ')}`);
    ctx.note(
      `${this.corrupt} of them corrupt at the protocol level (undecodable protobuf, broken gRPC framing, 0 or 2 messages in a unary call, unsupported grpc-encoding); ` +
        `${libraryCode} answered with the gRPC library's INTERNAL/UNIMPLEMENTED as the gRPC spec prescribes (not counted as 5xx to bad input), the rest 4xx`,
    );
    ctx.note(`answers: ${[...this.statuses].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    const show = (list: Example[]) =>
      list.map((e) => `${e.family} -> ${e.status}${e.grpcStatus !== undefined ? ` grpc-status ${e.grpcStatus}` : ''} ${JSON.stringify(e.body)}`).join('; ');
    if (fiveXx > 0) ctx.note(`5xx, e.g.: ${show(this.examples.fiveXx)}`);
    if (leaks > 0) ctx.fail(`${leaks} error bodies leak internals, e.g.: ${show(this.examples.leaks)}`);
    if (badShape > 0) ctx.fail(`${badShape} REST error bodies are not google.rpc.Status JSON, e.g.: ${show(this.examples.badShape)}`);
    if (deviations > 0) ctx.fail(`${deviations} answers differ from the contract's status, e.g.: ${show(this.examples.deviations)}`);
    if (noAnswer > 0) ctx.fail(`${noAnswer} requests got no answer (connection closed or timed out), e.g.: ${show(this.examples.noAnswer)}`);
  }
}
