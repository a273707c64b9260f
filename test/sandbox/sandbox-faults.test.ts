/**
 * A sandbox stopped or killed while its job runs, through the engine (an operator's `docker stop`
 * or `docker kill`) or behind its back (its runsc sandbox process killed on the host): that is not
 * the user's program failing. The job runs again on a fresh sandbox and gets the verdict its
 * program earns; the result says it took two runs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JobView } from '@sbx/shared';
import { LABELS } from '@sbx/worker';
import Docker from 'dockerode';
import { pollUntil } from '../support/poll.js';
import { startStack } from '../support/stack.js';

const docker = new Docker();

const FAULTS: { name: string; inflict: (c: Docker.Container) => Promise<unknown> }[] = [
  { name: 'docker kill (SIGKILL through the engine)', inflict: (c) => c.kill({ signal: 'SIGKILL' }) },
  { name: 'docker stop (SIGTERM through the engine)', inflict: (c) => c.stop({ t: 5 }) },
  {
    // For runsc the container's pid is its sandbox process (the sentry), which holds the program.
    name: 'its runsc sandbox process SIGKILLed on the host',
    inflict: async (c) => process.kill((await c.inspect()).State.Pid, 'SIGKILL'),
  },
];

describe('a sandbox stopped through the engine mid-run', () => {
  for (const fault of FAULTS)
    test(`${fault.name}: the job runs again and is ok, in two runs`, async () => {
      const stack = await startStack({ env: { SBX_SELF_CHECK: 'off' } });
      try {
        const res = await stack.app.inject({
          method: 'POST',
          url: '/jobs',
          payload: { code: 'import time\ntime.sleep(1.5)\nprint("survived")' },
        });
        const id = res.json().id as string;
        const { value: running } = await pollUntil(
          () => docker.listContainers({ filters: { label: [`${LABELS.job}=${id}`], status: ['running'] } }),
          (list) => list.length === 1,
          15_000,
          50,
        );
        const container = running[0]?.Id;
        assert.ok(container, 'the job has a running sandbox');
        // Into the program's sleep: the run is under way.
        await new Promise((r) => setTimeout(r, 700));
        await fault.inflict(docker.getContainer(container));

        const { value } = await pollUntil(
          async () => (await stack.app.inject({ method: 'GET', url: `/jobs/${id}` })).json() as JobView,
          (v) => v.state === 'completed',
          60_000,
          100,
        );
        assert.deepEqual(
          [value.result?.status, value.result?.stdout, value.result?.attempts],
          ['ok', 'survived\n', 2],
          JSON.stringify(value.result),
        );
      } finally {
        await stack.stop();
      }
    });
});
