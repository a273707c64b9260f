/**
 * The alert and recording rules as Prometheus itself reads them: `promtool check` (syntax, PromQL,
 * templates, duplicates) and `promtool test rules` (infra/prometheus/tests/*.yml: every alert firing
 * and not firing, every recording rule's value). promtool comes with Debian's prometheus package
 * (infra/host/ensure-host.sh installs it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);
const DIR = fileURLToPath(new URL('../../infra/prometheus/', import.meta.url));
const RULE_FILES = ['recording.yml', 'alerts.yml'];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
  promql_expr_test?: { expr: string }[];
}

const rulesOf = async (file: string): Promise<Rule[]> =>
  (parse(await readFile(`${DIR}${file}`, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

async function testFiles(): Promise<string[]> {
  return (await readdir(`${DIR}tests`)).filter((f) => f.endsWith('.yml')).map((f) => `tests/${f}`);
}

/** promtool's exit status is the verdict: a failure rejects with its output in the message. */
async function promtool(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: DIR, timeout: 120_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

test('promtool check: prometheus.yml and both rule files are valid, with no duplicate rules', async () => {
  const config = await promtool(['check', 'config', 'prometheus.yml']);
  assert.match(config, /SUCCESS: 2 rule files found/);
  await promtool(['check', 'rules', ...RULE_FILES]);
});

test('promtool test rules: every case in infra/prometheus/tests passes', async () => {
  const files = await testFiles();
  assert.ok(files.length >= 2, `test files: ${files}`);
  const out = await promtool(['test', 'rules', ...files]);
  assert.doesNotMatch(out, /FAILED/);
});

test('every alert has a for, a severity, a summary and a description, and a test firing and not firing', async () => {
  const alerts = (await rulesOf('alerts.yml')).filter((r) => r.alert);
  const cases = await Promise.all(
    (await testFiles()).map(async (f) => (parse(await readFile(`${DIR}${f}`, 'utf8')) as { tests: RuleTest[] }).tests),
  );
  const checks = cases.flat().flatMap((t) => t.alert_rule_test ?? []);
  const names = new Set(alerts.map((a) => a.alert));
  assert.ok(names.size >= 9, `alerts: ${[...names]}`);
  for (const rule of alerts) {
    const name = rule.alert as string;
    assert.match(rule.for ?? '', /^\d+[smh]$/, `${name} has a for`);
    assert.ok(['critical', 'warning'].includes(rule.labels?.severity ?? ''), `${name} has a severity`);
    assert.ok((rule.annotations?.summary ?? '').length > 20, `${name} has a summary`);
    assert.ok((rule.annotations?.description ?? '').length > 40, `${name} has a description`);
  }
  for (const name of names) {
    const mine = checks.filter((c) => c.alertname === name);
    assert.ok(
      mine.some((c) => (c.exp_alerts ?? []).length > 0),
      `${name} is tested firing`,
    );
    assert.ok(
      mine.some((c) => (c.exp_alerts ?? []).length === 0),
      `${name} is tested not firing`,
    );
  }
  // Alerts with more than one rule under a name (one per lane) must each be seen firing.
  const lanes = alerts.filter((a) => a.alert === 'SbxQueueWaitAboveSlo').map((a) => a.labels?.lane);
  const fired = JSON.stringify(checks.filter((c) => c.alertname === 'SbxQueueWaitAboveSlo'));
  for (const lane of lanes) assert.ok(fired.includes(`"lane":"${lane}"`), `SbxQueueWaitAboveSlo fires for ${lane}`);
});

test('every recording rule has a promql_expr_test, and the critical ones are named as the dashboard uses them', async () => {
  const recorded = (await rulesOf('recording.yml')).map((r) => r.record as string);
  const cases = await Promise.all(
    (await testFiles()).map(async (f) => (parse(await readFile(`${DIR}${f}`, 'utf8')) as { tests: RuleTest[] }).tests),
  );
  const exprs = cases.flat().flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr));
  for (const name of recorded)
    assert.ok(
      exprs.some((e) => e === name || e.startsWith(`${name}{`)),
      `${name} is tested`,
    );
  for (const name of ['status:sbx_runs:rate5m', 'lane:sbx_queue_wait_seconds:p95_5m', 'sbx:slots_busy:ratio'])
    assert.ok(recorded.includes(name), `${name} is recorded`);
});

test('prometheus.yml loads both rule files and sends alerts to alertmanager:9093', async () => {
  const config = parse(await readFile(`${DIR}prometheus.yml`, 'utf8')) as {
    rule_files: string[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  };
  assert.deepEqual([...config.rule_files].sort(), [...RULE_FILES].sort());
  const targets = config.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets));
  assert.deepEqual(targets, ['alertmanager:9093']);
});
