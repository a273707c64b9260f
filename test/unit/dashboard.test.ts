/**
 * The Grafana dashboard as Grafana will take it: checked against Grafana's published schema (the
 * `Dashboard` type of the npm package @grafana/schema, which ships TypeScript types and no JSON
 * schema: the JSON is type-checked by the TypeScript compiler as an object literal, so a missing
 * required field, a wrong type or an unknown field fails), with its stable uid, a datasource variable
 * every query uses, and provisioning that finds it where docker-compose.yml mounts it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parse } from 'yaml';

const ROOT = new URL('../../', import.meta.url);
const PROVISIONING = 'infra/grafana/provisioning';
const DASHBOARD = `${PROVISIONING}/dashboards/sbx-overview.json`;
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, resolved by Grafana.
const DATASOURCE_VAR = '${datasource}';

const read = (path: string) => readFile(new URL(path, ROOT), 'utf8');

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface PanelJson {
  id: number;
  title: string;
  type: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
}
interface DashboardJson {
  uid: string;
  panels: PanelJson[];
  templating?: { list: { name: string; type: string; query?: string; current?: { value?: string } }[] };
}

/**
 * Type errors of `json` assigned to @grafana/schema's Dashboard, from a source file that exists only in
 * memory (beside this test, so the package resolves from test/node_modules).
 */
function schemaErrors(json: string): string[] {
  const file = fileURLToPath(new URL('./dashboard-schema-check.ts', import.meta.url));
  // The schema declares some JSON strings as TypeScript string enums: each becomes its member, so
  // "absolute" is checked as ThresholdsMode.Absolute and a value outside the enum still fails.
  const literal = json
    .trim()
    .replace(
      /"mode": "(absolute|percentage)"/g,
      (_, mode: string) => `"mode": ThresholdsMode.${mode[0]?.toUpperCase()}${mode.slice(1)}`,
    );
  const source = `import { type Dashboard, ThresholdsMode } from '@grafana/schema';\nexport const dashboard = ${literal} satisfies Dashboard;\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').slice(0, 3).join(' / '));
}

test("the dashboard type-checks against @grafana/schema's Dashboard, and a broken one does not", async () => {
  const raw = await read(DASHBOARD);
  assert.deepEqual(schemaErrors(raw), []);
  // The check has teeth: a wrong type, an unknown field and a panel without its type each fail it.
  const faults: [string, (d: Record<string, unknown> & { panels: Record<string, unknown>[] }) => void][] = [
    ['schemaVersion as a string', (d) => Object.assign(d, { schemaVersion: '39' })],
    ['an unknown field', (d) => Object.assign(d, { refreshEvery: '30s' })],
    ['a panel without its type', (d) => delete d.panels[0]?.type],
  ];
  for (const [fault, apply] of faults) {
    const broken = JSON.parse(raw);
    apply(broken);
    assert.ok(schemaErrors(JSON.stringify(broken)).length > 0, `${fault} fails the check`);
  }
});

test('the dashboard has its stable uid, a Prometheus datasource variable, and every query uses it', async () => {
  const dashboard = JSON.parse(await read(DASHBOARD)) as DashboardJson;
  assert.equal(dashboard.uid, 'sbx-overview');
  const variable = dashboard.templating?.list.find((v) => v.name === 'datasource');
  assert.equal(variable?.type, 'datasource');
  assert.equal(variable?.query, 'prometheus');
  // Its default is the provisioned datasource.
  const datasources = parse(await read(`${PROVISIONING}/datasources/prometheus.yml`)) as {
    datasources: { uid: string; type: string }[];
  };
  assert.deepEqual(
    datasources.datasources.map((d) => [d.type, d.uid]),
    [['prometheus', variable?.current?.value]],
  );
  const ids = new Set<number>();
  for (const panel of dashboard.panels) {
    assert.ok(!ids.has(panel.id), `panel id ${panel.id} is unique`);
    ids.add(panel.id);
    assert.deepEqual(panel.datasource, { type: 'prometheus', uid: DATASOURCE_VAR }, `${panel.title}: datasource`);
    assert.ok(panel.targets.length > 0, `${panel.title} has queries`);
    for (const t of panel.targets) {
      assert.deepEqual(t.datasource, { type: 'prometheus', uid: DATASOURCE_VAR }, `${panel.title} ${t.refId}`);
      assert.ok(t.expr.trim().length > 0, `${panel.title} ${t.refId} has an expr`);
    }
  }
  // Panels on the 24-column grid that do not overlap: Grafana would shuffle them otherwise.
  const cells = new Set<string>();
  for (const { title, gridPos: g } of dashboard.panels) {
    assert.ok(g.x >= 0 && g.x + g.w <= 24, `${title} fits the grid`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
  }
});

test('provisioning finds the dashboard where docker-compose.yml mounts it', async () => {
  const compose = parse(await read('docker-compose.yml')) as { services: Record<string, { volumes?: string[] }> };
  const mount = (compose.services.grafana?.volumes ?? [])
    .map((v) => v.split(':'))
    .find(([from]) => from?.replace(/^\.\//, '') === PROVISIONING);
  assert.ok(mount, `grafana mounts ./${PROVISIONING}`);
  const inContainer = mount[1] as string;
  const provider = parse(await read(`${PROVISIONING}/dashboards/provider.yml`)) as {
    providers: { type: string; options: { path: string } }[];
  };
  const [first] = provider.providers;
  assert.equal(first?.type, 'file');
  // The provider's folder, mapped back to the repository, holds the dashboard file.
  const path = first?.options.path ?? '';
  assert.ok(path.startsWith(`${inContainer}/`), `${path} is under the mount ${inContainer}`);
  assert.equal(`${PROVISIONING}${path.slice(inContainer.length)}/sbx-overview.json`, DASHBOARD);
  // And the datasource provisioning sits where Grafana looks for it under the same mount.
  assert.ok(await read(`${PROVISIONING}/datasources/prometheus.yml`));
});
