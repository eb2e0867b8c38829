import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { environmentOf, loadCompose, publishedPorts, readYaml, type Json } from './deployment/compose.js';
import { promtoolCheckConfig } from './telemetry/support/prometheus-server.js';

// Offline checks of the telemetry profile of docker-compose.yml: Prometheus
// (its configuration checked by promtool) and Jaeger, optional, and wired to
// the ports and names the services use.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (path: string): string => join(ROOT, path);
const PROMETHEUS_CONFIG = 'deploy/prometheus/prometheus.yml';
const DEFAULT_STACK = loadCompose(at('docker-compose.yml'));
const TELEMETRY_STACK = loadCompose(at('docker-compose.yml'), {}, ['telemetry']);

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs?: { targets: string[] }[];
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
}

function scrapeConfigs(): ScrapeConfig[] {
  return (parse(readFileSync(at(PROMETHEUS_CONFIG), 'utf8')) as { scrape_configs: ScrapeConfig[] }).scrape_configs;
}

describe('telemetry profile of the compose stack', () => {
  it('promtool check config accepts the Prometheus configuration', async () => {
    expect(await promtoolCheckConfig(at(PROMETHEUS_CONFIG))).toContain('SUCCESS');
  });

  it('Prometheus and Jaeger run only with the telemetry profile', () => {
    expect(Object.keys(DEFAULT_STACK.services)).not.toContain('prometheus');
    expect(Object.keys(DEFAULT_STACK.services)).not.toContain('jaeger');
    const added = Object.keys(TELEMETRY_STACK.services).filter((name) => !(name in DEFAULT_STACK.services));
    expect(added.sort()).toEqual(['jaeger', 'prometheus']);
    for (const name of added) {
      const svc = TELEMETRY_STACK.services[name]!;
      expect(svc.image, name).toMatch(/:v?\d+\.\d+\.\d+$/);
      expect(svc.healthcheck?.test, name).toBeDefined();
      expect(svc.restart, name).toBe('unless-stopped');
      // Their UIs reach the host's loopback only.
      for (const port of publishedPorts(svc)) expect(port.hostIp, name).toBe('127.0.0.1');
    }
  });

  it('Prometheus reads the checked configuration and scrapes every Node service on the port it listens on', () => {
    const prometheus = TELEMETRY_STACK.services.prometheus!;
    expect(prometheus.volumes).toContain(`./${PROMETHEUS_CONFIG}:/etc/prometheus/prometheus.yml:ro`);
    const jobs = new Map(scrapeConfigs().map((job) => [job.job_name, job]));
    const api = environmentOf(TELEMETRY_STACK.services['task-api']!);
    expect(api.TASK_API_METRICS_HOST).toBe('0.0.0.0');
    expect(jobs.get('task-api')?.static_configs?.[0]?.targets).toEqual([`task-api:${api.TASK_API_METRICS_PORT}`]);
    const processor = environmentOf(TELEMETRY_STACK.services.processor!);
    expect(processor.PROCESSOR_METRICS_HOST).toBe('0.0.0.0');
    // Every replica: the service's DNS name lists them all.
    expect(jobs.get('processor')?.dns_sd_configs?.[0]).toMatchObject({ names: ['processor'], type: 'A', port: Number(processor.PROCESSOR_METRICS_PORT) });
  });

  it('the services export traces to Jaeger only when asked (make docker-up-telemetry)', () => {
    for (const name of ['task-api', 'processor']) {
      expect(environmentOf(DEFAULT_STACK.services[name]!).OTEL_EXPORTER_OTLP_ENDPOINT, name).toBe('');
      const traced = loadCompose(at('docker-compose.yml'), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }, ['telemetry']);
      expect(environmentOf(traced.services[name]!).OTEL_EXPORTER_OTLP_ENDPOINT, name).toBe('http://jaeger:4318');
    }
    expect(environmentOf(TELEMETRY_STACK.services.jaeger!).COLLECTOR_OTLP_ENABLED).toBe('true');
    const makefile = readFileSync(at('make/docker.mk'), 'utf8');
    expect(makefile).toMatch(/docker-up-telemetry:.*\n(?:.*\n)*?.*COMPOSE_PROFILES=telemetry.*OTEL_EXPORTER_OTLP_ENDPOINT=http:\/\/jaeger:4318/);
  });

  it("Envoy's statistics stay on its loopback admin interface (docs say how to scrape them)", () => {
    const envoy = readYaml(at('gateway/envoy.yaml')) as { admin: { address: { socket_address: { address: string } } } } & Json;
    expect(envoy.admin.address.socket_address.address).toBe('127.0.0.1');
    expect(readFileSync(at('docs/telemetry.md'), 'utf8')).toContain('/stats/prometheus');
  });
});
