/**
 * A scripted API for the playground page, answered by the browser's own request routing: one
 * interactive job whose event stream drops after the prompt, then resumes once the person's input
 * has arrived. It makes the page's input line and its Last-Event-ID resume happen the same way every
 * time, whatever the server runs.
 */
import type { Page, Route } from 'playwright-core';

export interface ScriptedRun {
  /** What the page submitted (POST /jobs). */
  submitted: Record<string, unknown>[];
  /** Bodies of POST /jobs/:id/stdin, in order. */
  stdin: Record<string, unknown>[];
  /** The Last-Event-ID header of each connection to the events stream. */
  resumedFrom: (string | undefined)[];
}

const INFO = {
  runtime: { language: 'python', version: '3.11.2' },
  sandbox: [{ runtime: 'runsc', release: '20240729', platform: 'systrap', directfs: false, workers: 1 }],
  limits: {
    time_ms: { default: 2000, max: 2000 },
    interactive: { wall_ms: 60000, idle_input_ms: 30000, max_input_call_bytes: 65536, max_input_bytes: 1048576 },
  },
  lanes: ['interactive', 'batch'],
  environments: [{ name: 'python', description: 'CPython', default: true, versions: null, workers: 1 }],
};

const sse = (events: [string, string, unknown][]) =>
  events.map(([id, type, data]) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`).join('');

function resultView(stdout: string) {
  const now = new Date().toISOString();
  return {
    id: 'j1',
    state: 'completed',
    result: {
      id: 'j1',
      status: 'ok',
      stdout,
      stderr: '',
      exit_code: 0,
      signal: null,
      time: 2.41,
      cpu_time: 0.02,
      memory_kb: 9216,
      stdout_truncated: false,
      stderr_truncated: false,
      limits: { time_ms: 2000, memory_mb: 256 },
      policy: 'strict',
      wall_time: 2.5,
      submitted_at: now,
      finished_at: now,
    },
  };
}

const json = (route: Route, status: number, body: unknown) =>
  route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

/** Routes /info, /jobs, /jobs/j1/events and /jobs/j1/stdin of `page` to the script. */
export async function scriptApi(page: Page, origin: string): Promise<ScriptedRun> {
  const run: ScriptedRun = { submitted: [], stdin: [], resumedFrom: [] };
  let answered: () => void = () => {};
  const inputArrived = new Promise<void>((resolve) => {
    answered = resolve;
  });
  await page.route(`${origin}/info`, (route) => json(route, 200, INFO));
  await page.route(`${origin}/jobs`, (route) => {
    run.submitted.push(route.request().postDataJSON());
    return json(route, 202, { id: 'j1', state: 'queued', position: 0, eta_seconds: null });
  });
  await page.route(`${origin}/jobs/j1/stdin`, (route) => {
    const body = route.request().postDataJSON();
    run.stdin.push(body);
    answered();
    return json(route, 200, { offset: Buffer.byteLength(String(body.data ?? '')), eof: false });
  });
  await page.route(`${origin}/jobs/j1/events`, async (route) => {
    const from = route.request().headers()['last-event-id'];
    run.resumedFrom.push(from);
    if (!from) {
      // The first connection ends right after the prompt: the page must come back for the rest.
      const body = sse([
        ['1-1', 'status', { state: 'running', attempt: 1 }],
        ['1-2', 'stdout', { text: 'Name? ' }],
      ]);
      return route.fulfill({ status: 200, contentType: 'text/event-stream', body });
    }
    await inputArrived;
    const body = sse([
      ['1-3', 'stdout', { text: 'Hello, Ada!\n' }],
      ['1-4', 'result', resultView('Name? Hello, Ada!\n')],
    ]);
    return route.fulfill({ status: 200, contentType: 'text/event-stream', body });
  });
  return run;
}
