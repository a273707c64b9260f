import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVIRONMENT_SPECS } from '@sbx/shared';
import { buildContainerSpec, DEFAULT_SANDBOX_USER, LABELS } from '@sbx/worker';

const settings = {
  images: { python: 'img', 'python-data': 'img-data' },
  runtime: 'runsc',
  tmpfsMb: 16,
  nproc: 64,
  pidsLimit: 1024,
  nofile: 256,
  cpus: 2,
  fileSizeBytes: 1 << 24,
  user: DEFAULT_SANDBOX_USER,
};

test('every hardening flag is set', () => {
  const spec = buildContainerSpec(
    settings,
    { time_ms: 2000, memory_mb: 100 },
    { jobId: 'j1', workerId: 'w1', prefix: 'p1' },
  );
  const h = spec.HostConfig;
  assert.ok(h);
  assert.equal(h.Runtime, 'runsc');
  assert.equal(h.NetworkMode, 'none');
  assert.equal(spec.NetworkDisabled, true);
  assert.equal(h.ReadonlyRootfs, true);
  assert.match(h.Tmpfs?.['/tmp'] ?? '', /noexec/);
  assert.match(h.Tmpfs?.['/tmp'] ?? '', /size=16m/);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.CapAdd, ['SETUID', 'SETGID', 'KILL'], "the supervisor's three, nothing else");
  assert.equal(h.ShmSize, 16 * 1024 * 1024);
  assert.deepEqual(h.SecurityOpt, ['no-new-privileges']);
  assert.equal(
    h.Memory,
    (100 + ENVIRONMENT_SPECS.python.memoryShareMb) * 1024 * 1024,
    'the limit plus the harness share',
  );
  assert.equal(spec.Image, 'img');
  assert.equal(h.MemorySwap, h.Memory, 'no swap beyond the limit');
  assert.equal(h.PidsLimit, 1024);
  assert.equal(h.NanoCpus, 2 * 1e9, 'a CPU quota, in cores');
  assert.equal(h.Privileged, false);
  assert.equal(h.AutoRemove, false, 'inspect must still see OOMKilled');
  assert.equal(h.LogConfig?.Type, 'none');
  const ulimits = Object.fromEntries((h.Ulimits ?? []).map((u) => [u.Name, [u.Soft, u.Hard]]));
  assert.deepEqual(ulimits.nproc, [64, 64]);
  assert.deepEqual(ulimits.fsize, [1 << 24, 1 << 24]);
  assert.ok(ulimits.nofile);
  // The supervisor starts as the sandbox's root to drop each program to its own uid (the floor test
  // proves the program holds none of its capabilities); gVisor's root is nobody on the host.
  assert.equal(spec.User, '0:0');
  assert.equal(spec.Cmd, undefined, 'the code never travels on argv');
  assert.ok(
    spec.Env?.every((e) => /^(PATH|LANG|HOME|MALLOC_ARENA_MAX)=/.test(e)),
    'no host environment inside',
  );
  assert.deepEqual(spec.Labels, {
    [LABELS.managed]: '1',
    [LABELS.prefix]: 'p1',
    [LABELS.job]: 'j1',
    [LABELS.worker]: 'w1',
    [LABELS.environment]: 'python',
  });
});

test("an environment's sandbox runs its image, with its preloaded libraries' share on top of the limit", () => {
  const spec = buildContainerSpec(
    settings,
    { time_ms: 2000, memory_mb: 128, environment: 'python-data' },
    { jobId: 'j', workerId: 'w', prefix: 'p' },
  );
  assert.equal(spec.Image, 'img-data');
  assert.equal(spec.HostConfig?.Memory, (128 + ENVIRONMENT_SPECS['python-data'].memoryShareMb) * 2 ** 20);
  assert.ok(ENVIRONMENT_SPECS['python-data'].memoryShareMb > ENVIRONMENT_SPECS.python.memoryShareMb);
  assert.equal(spec.Labels?.[LABELS.environment], 'python-data');
});

test('a sandbox started ahead of demand gets the lowest CPU weight; a job-started one the default', () => {
  const labels = { jobId: 'j', workerId: 'w', prefix: 'p' };
  const limits = { time_ms: 2000, memory_mb: 128 };
  assert.equal(buildContainerSpec(settings, limits, labels, true).HostConfig?.CpuShares, 2);
  assert.equal(buildContainerSpec(settings, limits, labels).HostConfig?.CpuShares, undefined);
});
