import type { BlackholeProxy } from './blackhole-proxy.js';
import type { PrivatePostgres } from './infra/postgres.js';
import type { PrivateRabbit } from './infra/rabbitmq.js';
import type { ScenarioDatabase } from './database.js';
import type { LoadRecord } from './load.js';
import type { System } from './system.js';
import type { TaskTopology } from '@taskproc/core';

export interface Infrastructure {
  postgres: PrivatePostgres;
  rabbit: PrivateRabbit;
}

/** Proxies the services reach PostgreSQL and RabbitMQ through (scenarios with `network: 'proxied'`). */
export interface Proxies {
  postgres: BlackholeProxy;
  rabbit: BlackholeProxy;
}

/** What a scenario works with; the runner creates it fresh for each one. */
export interface ScenarioContext {
  infra: Infrastructure;
  /** Present when the scenario asked for `network: 'proxied'`; the runner lifts any hold before the drain. */
  proxies: Proxies | null;
  db: ScenarioDatabase;
  system: System;
  topology: TaskTopology;
  record: LoadRecord;
  /** Where this scenario's service logs (and any files it writes) go. */
  logDir: string;
  /** Progress lines on stderr, prefixed with the scenario id. */
  log(message: string): void;
  /** A check of the scenario's own that failed; fails the scenario. */
  fail(message: string): void;
  /** A figure worth printing under the table (throughput, timings, how often a race went each way). */
  note(message: string): void;
  /** Dead letters the scenario put there on purpose (default 0). */
  expectDeadLettered(count: number): void;
  /**
   * Up to `max` messages the broker itself may dead-letter at the queue's
   * delivery limit (a crash loop); by default any such dead letter fails the scenario.
   */
  allowDeliveryLimitDeadLetters(max: number): void;
  /** 5xx answers to bad input (scenario 10). */
  countBadInput5xx(count: number): void;
  /** Wait longer than the default before calling what is left unfinished "stuck". */
  drainTimeoutMs?: number;
  /** Present when the scenario asked for `auth: 'jwt'`: signs tokens task-api accepts. */
  tokens: { for(tenant: string): Promise<string> } | null;
}

export interface Scenario {
  /** Two digits and a slug, e.g. "02-processor-kill9"; the table's first column. */
  id: string;
  title: string;
  /** Service settings that differ from the suite's defaults. */
  settings?: Record<string, string>;
  /**
   * 'proxied': the services reach PostgreSQL and RabbitMQ through a proxy of
   * the suite's that can blackhole them (ctx.proxies); the suite's own
   * connections (checker, broker) stay direct. Default 'direct'.
   */
  network?: 'direct' | 'proxied';
  /**
   * 'jwt': the services run with authentication on (AUTH_MODE=jwt), trusting
   * a development key made for the scenario in a temporary folder;
   * ctx.tokens signs tokens with it. Default 'none'.
   */
  auth?: 'none' | 'jwt';
  /**
   * Starts the services it needs (ctx.system), drives the load, injects the
   * fault and puts back what it disturbed. The runner then drains, stops the
   * services and checks the final state.
   */
  run(ctx: ScenarioContext): Promise<void>;
}
