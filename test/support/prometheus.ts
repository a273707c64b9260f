/**
 * A real Prometheus (Debian's, /usr/bin/prometheus) of a test's own: a temporary config and data
 * directory, a free loopback port, the repository's rule files loaded as they are.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { eventually } from './poll.js';
import { freePort } from './ports.js';

/** The rule files Prometheus loads in production (infra/prometheus/prometheus.yml names the same). */
export const RULE_FILES = ['recording.yml', 'alerts.yml'].map((f) =>
  fileURLToPath(new URL(`../../infra/prometheus/${f}`, import.meta.url)),
);

export interface ScrapeJob {
  job: string;
  /** host:port of each /metrics endpoint. */
  targets: string[];
}

/** One sample of an instant query: its labels and its value as Prometheus writes it ("NaN" included). */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface Prometheus {
  readonly url: string;
  /** An instant query through /api/v1/query; throws on an error answer (a PromQL syntax error too). */
  query(expr: string): Promise<Sample[]>;
  /** Pending and firing alerts through /api/v1/alerts. */
  alerts(): Promise<ActiveAlert[]>;
  /** Scrape targets with their health, through /api/v1/targets. */
  targets(): Promise<{ job: string; instance: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as ApiAnswer<T>;
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

/**
 * Starts Prometheus scraping `jobs` every `interval` and evaluating the real rules as often; resolves
 * once it answers /-/ready. `stop()` kills it and removes its directory.
 */
export async function startPrometheus(jobs: ScrapeJob[], interval = '1s'): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-prometheus-'));
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: RULE_FILES,
    scrape_configs: jobs.map((j) => ({ job_name: j.job, static_configs: [{ targets: j.targets }] })),
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Its own log is noise unless it fails to start: kept for the assertion message.
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  };
  const ready = await eventually(
    async () => {
      if (child.exitCode !== null) return true;
      return (await fetch(`${url}/-/ready`).catch(() => null))?.ok === true;
    },
    30_000,
    200,
  );
  if (!ready || child.exitCode !== null) {
    await stop();
    assert.fail(`prometheus did not become ready on ${url}: ${log}`);
  }
  return {
    url,
    query: async (expr) =>
      (await api<{ resultType: string; result: Sample[] }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`))
        .result,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>(`${url}/api/v1/alerts`)).alerts,
    targets: async () =>
      (
        await api<{
          activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
        }>(`${url}/api/v1/targets`)
      ).activeTargets.map((t) => ({
        job: t.labels.job ?? '',
        instance: t.labels.instance ?? '',
        health: t.health,
        lastError: t.lastError,
      })),
    stop,
  };
}
