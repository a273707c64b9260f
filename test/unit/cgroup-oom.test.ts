import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupOom, counterFiles, parseOomKills } from '@sbx/worker';

const roots: string[] = [];
after(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

// What the kernel writes, v1 (seen on this host) and v2.
const v1 = (kills: number) => `oom_kill_disable 0\nunder_oom 0\noom_kill ${kills}\n`;
const v2 = (kills: number) => `low 0\nhigh 0\nmax 12\noom 2\noom_kill ${kills}\noom_group_kill 0\n`;

/** A fake /sys/fs/cgroup holding one container's counter at the layout's path `index` (counterFiles' order). */
async function fakeCgroup(index: number, text: string) {
  const root = await mkdtemp(join(tmpdir(), 'sbx-cgroup-'));
  roots.push(root);
  const id = `c${index}${Math.random().toString(16).slice(2)}`;
  const file = counterFiles(root, id)[index] ?? '';
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  return {
    root,
    id,
    // Written whole, as the kernel serves it: writeFile truncates first, and a poll in between would
    // read an empty file (a reading no real cgroup gives).
    set: async (content: string) => {
      await writeFile(`${file}.next`, content);
      await rename(`${file}.next`, file);
    },
    remove: () => rm(dirname(file), { recursive: true }),
  };
}

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await sleep(5);
};

test('the oom_kill line of both files is read, and the v1 oom_kill_disable line is not taken for it', () => {
  assert.equal(parseOomKills(v1(3)), 3);
  assert.equal(parseOomKills(v2(7)), 7);
  assert.equal(parseOomKills('oom_kill_disable 1\nunder_oom 1\n'), null);
  assert.equal(parseOomKills(''), null);
});

test('every layout Docker uses is found: v1 and v2, cgroupfs and systemd drivers', async () => {
  for (const [index, text] of [v1(0), v1(0), v2(0), v2(0)].entries()) {
    const cg = await fakeCgroup(index, text);
    const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
    await oom.watch(cg.id);
    assert.equal(await oom.killed(cg.id), false, `layout ${index}: watched, no kill`);
    await cg.set(index < 2 ? v1(1) : v2(1));
    assert.equal(await oom.killed(cg.id), true, `layout ${index}: the kill is read`);
    oom.close();
  }
});

test('a kill seen while polling stays evidence after the cgroup is removed (a whole sandbox OOM-killed)', async () => {
  const cg = await fakeCgroup(0, v1(0));
  const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
  await oom.watch(cg.id);
  await cg.set(v1(1));
  // Nobody asks until the poller has had its look; then the cgroup goes, as runsc removes it.
  await sleep(50);
  await cg.remove();
  assert.equal(await oom.killed(cg.id), true);
  oom.close();
});

test('a cgroup removed with no kill ever read is no evidence either way (null), not "no kill"', async () => {
  const cg = await fakeCgroup(0, v1(0));
  const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
  await oom.watch(cg.id);
  await cg.remove();
  assert.equal(await oom.killed(cg.id), null);
  oom.close();
});

test('the count at watch time is the baseline: only a rise is a kill', async () => {
  const cg = await fakeCgroup(2, v2(2));
  const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
  await oom.watch(cg.id);
  assert.equal(await oom.killed(cg.id), false);
  await cg.set(v2(3));
  assert.equal(await oom.killed(cg.id), true);
  oom.close();
});

test('kills counts from the baseline, so two answers tell which test a kill came in (the sandbox living on)', async () => {
  const cg = await fakeCgroup(0, v1(4));
  const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
  await oom.watch(cg.id);
  assert.equal(oom.kills(cg.id), 0, 'after test 0');
  await cg.set(v1(5));
  assert.equal(oom.kills(cg.id), 1, 'after test 1: its program was killed');
  assert.equal(oom.kills(cg.id), 1, 'after test 2: nothing new');
  await cg.remove();
  assert.equal(oom.kills(cg.id), 1, 'what was seen stays once the cgroup is gone');
  assert.equal(oom.kills('neverwatched'), null);
  oom.close();
});

test('a kill the poller saw is kept even if a later read cannot parse the file', async () => {
  const cg = await fakeCgroup(0, v1(0));
  const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
  await oom.watch(cg.id);
  await cg.set(v1(1));
  await until(async () => (await oom.killed(cg.id)) === true);
  await cg.set('garbage');
  assert.equal(await oom.killed(cg.id), true);
  oom.close();
});

test('no counter to read (unknown layout, no host cgroups, never watched) is null', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sbx-cgroup-'));
  roots.push(root);
  const oom = new CgroupOom({ root, pollMs: 5 });
  await oom.watch('nothere');
  assert.equal(await oom.killed('nothere'), null);
  assert.equal(await oom.killed('neverwatched'), null);
  oom.close();
});

test('forget drops the container: a later question has no evidence', async () => {
  const cg = await fakeCgroup(0, v1(0));
  const oom = new CgroupOom({ root: cg.root, pollMs: 5 });
  await oom.watch(cg.id);
  oom.forget(cg.id);
  assert.equal(await oom.killed(cg.id), null);
  oom.close();
});
