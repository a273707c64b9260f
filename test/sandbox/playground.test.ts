/**
 * The playground in a real browser (Debian's chromium, driven by playwright-core) against the real
 * stack: a person types a program and runs it, sees its first line while it still runs, answers an
 * input() prompt, sees the verdict, a chart and test verdicts, stops a loop, and shares a link. The
 * page loads under its strict CSP with nothing refused and nothing fetched from another origin.
 *
 * Screenshots (light and dark, desktop and narrow) go to $SBX_PLAYGROUND_SCREENSHOTS when set
 * (docs/screenshots holds the committed ones), to a temp dir otherwise.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildPlayground, isUpToDate } from '@sbx/playground/build';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium, openPage, type WatchedPage } from '../support/browser.js';
import { scriptApi } from '../support/scripted-api.js';
import { type Stack, startStack } from '../support/stack.js';

const KEY = 'playground-browser-key';

/** What an element shows, as its text nodes hold it. */
const text = async (locator: Locator) => (await locator.textContent()) ?? '';
const consoleText = (page: Page) => text(page.locator('#console'));

/** The page's globals, typed as far as the test reads them: the tests compile without the DOM lib. */
interface PageWindow {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    activeElement: { id: string } | null;
  };
  sessionStorage: { getItem(key: string): string | null };
}

/**
 * Waits until the console shows `text`, checked at each animation frame. A function, not a string:
 * the page's CSP refuses eval, which a string predicate needs.
 */
async function shows(page: Page, text: string, timeout: number): Promise<void> {
  const predicate = (wanted: string) =>
    ((globalThis as unknown as PageWindow).document.querySelector('#console')?.textContent ?? '').includes(wanted);
  await page.waitForFunction(predicate, text, { timeout, polling: 'raf' });
}

/** The editor's program, line by line as CodeMirror shows it. */
const editorLines = (page: Page) => page.locator('.cm-line').allTextContents();

/**
 * Replaces the editor's program as a person pasting it would: select all, then a paste event that
 * carries the text (CodeMirror takes the text from the event). Typing would get the editor's
 * auto-indent; insertText would have the browser's own editing write into the editor's DOM.
 */
async function setCode(page: Page, code: string): Promise<void> {
  const content = page.locator('.cm-content');
  await content.click();
  await page.keyboard.press('Control+A');
  await content.evaluate((el, text) => {
    type Ctor<T> = new (type: string, init: object) => T;
    const g = globalThis as unknown as {
      DataTransfer: new () => { setData(t: string, d: string): void };
      ClipboardEvent: Ctor<object>;
    };
    const data = new g.DataTransfer();
    data.setData('text/plain', text);
    (el as unknown as { dispatchEvent(e: object): void }).dispatchEvent(
      new g.ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
    );
  }, code);
}

async function runAndWait(page: Page, verdict: RegExp, timeout = 60_000): Promise<void> {
  await page.locator('#run').click();
  await page.locator('#badge').filter({ hasText: verdict }).waitFor({ timeout });
}

describe('the playground in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let url = '';
  let interactive = false;
  let shots = '';
  let view: WatchedPage;

  before(async () => {
    if (!(await isUpToDate())) await buildPlayground();
    shots = process.env.SBX_PLAYGROUND_SCREENSHOTS ?? (await mkdtemp(join(tmpdir(), 'sbx-playground-shots-')));
    await mkdir(shots, { recursive: true });
    stack = await startStack({
      env: {
        SBX_SELF_CHECK: 'off',
        SBX_WORKER_CONCURRENCY: '2',
        SBX_ENVIRONMENTS: 'python,python-data',
        SBX_API_KEYS: KEY,
        // Room for Stop to be what ends the loop, rather than the time limit.
        SBX_DEFAULT_TIME_MS: '20000',
        SBX_MAX_TIME_MS: '20000',
      },
    });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}/`;
    const info = (await fetch(`${url}info`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.json())) as {
      limits?: { interactive?: unknown };
    };
    interactive = info.limits?.interactive !== undefined;
    browser = await launchChromium();
    view = await openPage(browser, url);
  });
  after(async () => {
    await view?.close();
    await browser?.close();
    await stack?.stop();
  });

  test('the page loads without a key, asks for one, and reads /info once it has it', async () => {
    const { page } = view;
    await page.locator('#key-row').waitFor({ state: 'visible' });
    assert.match(await text(page.locator('#key-hint')), /needs an API key/);
    await page.locator('#api-key').fill(KEY);
    await page.locator('#api-key').press('Enter');
    await page.locator('#api-key').blur();
    await page
      .locator('#server-info')
      .filter({ hasText: /^Python 3\.11/ })
      .waitFor();
    assert.deepEqual(await page.locator('#environment option').allTextContents(), ['python', 'python-data']);
    const stored = await page.evaluate(() =>
      (globalThis as unknown as PageWindow).sessionStorage.getItem('sbx.playground.apiKey'),
    );
    assert.equal(stored, KEY);
  });

  test('typed and run with Ctrl-Enter: the first line shows while the program still sleeps', async () => {
    const { page } = view;
    await setCode(page, '');
    // Line buffering for every job came with interactive input (issue 21); before it, a flush.
    const flush = interactive ? '' : ', flush=True';
    await page.keyboard.type(`import time\nprint("first"${flush})\ntime.sleep(1)\nprint("second")\n`);
    assert.deepEqual(await editorLines(page), [
      'import time',
      `print("first"${flush})`,
      'time.sleep(1)',
      'print("second")',
      '',
    ]);
    await page.keyboard.press('Control+Enter');
    await shows(page, 'first', 60_000);
    const firstAt = Date.now();
    assert.doesNotMatch(await consoleText(page), /second/, 'the first line came before the program ended');
    await shows(page, 'second', 10_000);
    const gap = Date.now() - firstAt;
    assert.ok(gap > 600, `the second line came ${gap} ms after the first, about the program's 1 s sleep`);
    await page.locator('#badge').filter({ hasText: /^OK$/ }).waitFor({ timeout: 10_000 });
    assert.match(await text(page.locator('[data-stat="time"]')), /time\s*1\.\d\d s/);
    assert.match(await text(page.locator('[data-stat="memory"]')), /memory\s*[\d.]+ (KiB|MiB)/);
  });

  test('an input() prompt is answered in the input line', async (t) => {
    if (!interactive) return t.skip('this server does not list limits.interactive in /info yet');
    const { page } = view;
    await setCode(page, 'name = input("Name? ")\nprint(f"Hello, {name}!")\n');
    await page.locator('#run').click();
    await page.locator('#input-line').waitFor({ state: 'visible', timeout: 60_000 });
    await shows(page, 'Name? ', 10_000);
    await page.locator('#input-line').fill('Ada');
    await page.locator('#input-line').press('Enter');
    await page.locator('#badge').filter({ hasText: /^OK$/ }).waitFor({ timeout: 30_000 });
    assert.match(await consoleText(page), /Name\? Ada\n?Hello, Ada!/);
    assert.equal(await text(page.locator('#console .input')), 'Ada\n');
  });

  test('an error: stderr is marked, the verdict says so', async () => {
    const { page } = view;
    await setCode(page, 'print("before")\nraise ValueError("boom")\n');
    await runAndWait(page, /^Runtime error$/);
    assert.match(await text(page.locator('#console .stderr')), /ValueError: boom/);
    assert.match(await text(page.locator('[data-stat="exit"]')), /1/);
  });

  test('Stop ends a running loop: the verdict is Stopped', async () => {
    const { page } = view;
    await setCode(
      page,
      'import time\nn = 0\nwhile True:\n    n += 1\n    print("tick", n, flush=True)\n    time.sleep(0.3)\n',
    );
    await page.locator('#run').click();
    await shows(page, 'tick 2', 60_000);
    assert.ok(await page.locator('#stop').isEnabled());
    await page.locator('#stop').click();
    await page
      .locator('#badge')
      .filter({ hasText: /^Stopped$/ })
      .waitFor({ timeout: 20_000 });
    assert.ok(await page.locator('#run').isEnabled(), 'Run is back');
    assert.ok(await page.locator('#stop').isDisabled());
  });

  test('test cases: each gets its verdict, and the badge counts them', async () => {
    const { page } = view;
    await page.locator('#examples').selectOption({ label: 'Test cases' });
    await page.locator('#add-test').click();
    await page.locator('.test-case').nth(3).locator('textarea').nth(0).fill('1 1');
    await page.locator('.test-case').nth(3).locator('textarea').nth(1).fill('3');
    await runAndWait(page, /3\/4 passed/);
    const chips = await page.locator('.test-case .chip').allTextContents();
    assert.deepEqual(
      chips.map((c) => c.split(' · ')[0]),
      ['Accepted', 'Accepted', 'Accepted', 'Wrong answer'],
    );
    assert.match(await consoleText(page), /Test 1\s*5\s*Test 2\s*6/);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(shots, 'playground-tests-dark.png'), animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('a chart in python-data is shown inline; screenshots in light and dark, desktop and narrow', async () => {
    const { page } = view;
    await page.locator('#examples').selectOption({ label: 'Chart (python-data)' });
    assert.equal(await page.locator('#environment').inputValue(), 'python-data');
    await runAndWait(page, /^OK$/, 90_000);
    const img = page.locator('#figures img');
    await img.waitFor();
    const width = await img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth);
    assert.ok(width > 300, `a decoded PNG, ${width} px wide`);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.screenshot({ path: join(shots, `playground-desktop-${scheme}.png`), animations: 'disabled' });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({
        path: join(shots, `playground-narrow-${scheme}.png`),
        fullPage: true,
        animations: 'disabled',
      });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('Share puts the program in the fragment; the link opens it in a new page', async () => {
    const { page } = view;
    await setCode(page, 'print("shared 🐍")\n');
    await page.locator('#share').click();
    await page.waitForURL(/#s=/);
    const link = page.url();
    assert.doesNotMatch(link.split('#')[0] ?? '', /shared/, 'the code is only in the fragment');
    const other = await openPage(browser, link);
    try {
      await other.page.locator('.cm-line').filter({ hasText: 'print("shared 🐍")' }).waitFor();
    } finally {
      await other.close();
    }
    assert.deepEqual(other.problems, []);
  });

  test('against a scripted API: the input line answers a prompt, and a dropped stream resumes after its last id', async () => {
    const origin = url.replace(/\/$/, '');
    let script: Awaited<ReturnType<typeof scriptApi>> | undefined;
    const scripted = await openPage(browser, url, {
      prepare: async (page) => {
        script = await scriptApi(page, origin);
      },
    });
    try {
      const { page } = scripted;
      await page
        .locator('#server-info')
        .filter({ hasText: /interactive input/ })
        .waitFor();
      await setCode(page, 'name = input("Name? ")\nprint(f"Hello, {name}!")\n');
      await page.keyboard.press('Control+Enter');
      await page.locator('#input-line').waitFor({ state: 'visible' });
      await shows(page, 'Name? ', 10_000);
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.id),
        'input-line',
      );
      await page.keyboard.type('Ada');
      await page.screenshot({ path: join(shots, 'playground-input-light.png'), animations: 'disabled' });
      await page.keyboard.press('Enter');
      await page.locator('#badge').filter({ hasText: /^OK$/ }).waitFor();
      assert.equal(await consoleText(page), 'Name? Ada\nHello, Ada!\n');
      assert.ok(await page.locator('#input-form').isHidden(), 'the input line goes with the run');
      assert.deepEqual(script?.stdin, [{ data: 'Ada\n', offset: 0 }]);
      assert.equal(script?.submitted[0]?.interactive, true);
      assert.deepEqual(script?.resumedFrom, [undefined, '1-2']);
    } finally {
      await scripted.close();
    }
    assert.deepEqual(scripted.problems, []);
  });

  test('nothing was refused by the CSP, thrown, or fetched from another origin', () => {
    assert.deepEqual(view.problems, []);
  });
});
