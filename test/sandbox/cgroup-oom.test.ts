import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { after, test } from 'node:test';
import { loadConfig } from '@sbx/shared';
import { buildContainerSpec, CgroupOom, counterFiles, sandboxSettingsFromConfig } from '@sbx/worker';
import Docker from 'dockerode';
import { FILLS_THE_CGROUP } from '../support/memory-programs.js';

/**
 * The kernel's OOM-kill counter of a real runsc sandbox's memory cgroup, read by CgroupOom. The programs
 * run as the container's command, `python3 -c`, so no harness is involved: only the kernel, runsc and
 * the cgroup Docker made. The container is the worker's own sandbox spec (its limits, its cgroup).
 */
const docker = new Docker();
const settings = sandboxSettingsFromConfig(loadConfig({}));
const workerId = `cgoomtest-${randomBytes(3).toString('hex')}`;
const oom = new CgroupOom();
after(() => oom.close());

/**
 * A sandbox container of `memory_mb` (its cgroup is that plus the environment's share) whose shell runs
 * `code` once it reads a line on stdin: as in the runner, the watch starts before the program has its job.
 */
async function start(code: string, memory_mb: number) {
  const spec = buildContainerSpec(
    settings,
    { time_ms: 10_000, memory_mb },
    { jobId: 'cgroup-oom', workerId, prefix: `sbxtest-${workerId}` },
  );
  const container = await docker.createContainer({ ...spec, Cmd: ['sh', '-c', `read go; ${code}`] });
  const stream = (await container.attach({
    stream: true,
    stdin: true,
    stdout: true,
    stderr: true,
    hijack: true,
  })) as Duplex;
  let output = '';
  stream.on('data', (chunk: Buffer) => {
    output += chunk.toString('latin1');
  });
  stream.on('error', () => {});
  const exited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
  await container.start();
  await oom.watch(container.id);
  assert.equal(oom.kills(container.id), 0, "the container's counter was found, at zero");
  stream.write('go\n');
  const printed = async (text: string) => {
    for (let i = 0; i < 400 && !output.includes(text); i++) await new Promise((r) => setTimeout(r, 25));
    return output.includes(text);
  };
  return { container, exited, printed, output: () => output };
}

async function removed(container: Docker.Container) {
  oom.forget(container.id);
  await container.remove({ force: true }).catch(() => {});
}

const python = (program: string) => `python3 -c '${program}'`;

test('a whole sandbox the kernel OOM-kills: the kill is seen, though its cgroup is gone before Docker says it exited', async (t) => {
  // 300 MB touched under a 64 MB cgroup (16 + python's 48 MB share); nothing refuses it before the kernel.
  const sandbox = await start(python('b = bytearray(300 << 20); print("allocated")'), 16);
  try {
    const { StatusCode } = await sandbox.exited;
    assert.equal(StatusCode, 137);
    // What the poller is for: here (Docker 20.10, runsc 20240729) the cgroup is gone by the time the exit is reported.
    const files = counterFiles('/sys/fs/cgroup', sandbox.container.id);
    const left = await Promise.all(
      files.map((f) =>
        access(f).then(
          () => true,
          () => false,
        ),
      ),
    );
    t.diagnostic(`cgroup at exit: ${left.includes(true) ? 'still there' : 'already removed'}`);
    assert.equal(await oom.killed(sandbox.container.id), true);
    assert.ok(!sandbox.output().includes('allocated'));
  } finally {
    await removed(sandbox.container);
  }
});

test('many small allocations, and memory no mapping accounts for (memfds): each kill is seen', async () => {
  const programs = [python('l = []\nwhile True: l.append(bytearray(4096))'), python(FILLS_THE_CGROUP)];
  for (const program of programs) {
    const sandbox = await start(program, 16);
    try {
      assert.equal((await sandbox.exited).StatusCode, 137);
      assert.equal(await oom.killed(sandbox.container.id), true, program);
    } finally {
      await removed(sandbox.container);
    }
  }
});

test('a kill that takes only the program (systrap) leaves the sandbox running: the counter says so while it runs', async (t) => {
  // A dict growing in small steps under systrap: the host's OOM killer takes the program's stub process,
  // gVisor ends the program with exit status 1 and the sandbox lives on (issue 9). The shell reports it.
  const dictBomb = python('d = {}\ni = 0\nwhile True:\n    d[i] = str(i) * 10\n    i += 1');
  const sandbox = await start(`${dictBomb}; echo "rc=$?"; sleep 30`, 128);
  try {
    // The kernel may also take the whole sandbox (exit 137, no "rc="): the kill is evidence either way.
    const outcome = await Promise.race([sandbox.printed('rc='), sandbox.exited.then(() => false)]);
    assert.equal(await oom.killed(sandbox.container.id), true, sandbox.output());
    if (outcome) {
      assert.match(sandbox.output(), /rc=1/);
      assert.equal((await sandbox.container.inspect()).State.Running, true, 'the sandbox lives on');
    }
    t.diagnostic(outcome ? 'only the program was killed; the sandbox lived on' : 'the whole sandbox was killed');
  } finally {
    await removed(sandbox.container);
  }
});

test('a program that stays under the limit: no kill while the sandbox lives, and no evidence once its cgroup is gone', async () => {
  const sandbox = await start(`${python('b = bytearray(40 << 20); print("done", flush=True)')}; sleep 30`, 128);
  try {
    assert.ok(await sandbox.printed('done'));
    assert.equal(await oom.killed(sandbox.container.id), false);
    await sandbox.container.kill({ signal: 'SIGKILL' });
    await sandbox.exited;
    // Once the cgroup is gone, its last moments cannot be vouched for: null (ask Docker's event), never true.
    assert.notEqual(await oom.killed(sandbox.container.id), true);
  } finally {
    await removed(sandbox.container);
  }
});
