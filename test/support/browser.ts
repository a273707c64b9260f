/**
 * A real browser for the playground test: Debian's chromium (infra/host/ensure-host.sh installs it)
 * driven by playwright-core, which downloads nothing. Each page records what should never happen:
 * a CSP refusal, an uncaught error, a request to another origin.
 */
import { access } from 'node:fs/promises';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Quiet, offline, no sandbox of its own (the test may run as root, which Chromium's sandbox refuses). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`no browser at ${CHROMIUM}: sudo bash infra/host/ensure-host.sh installs Debian's chromium`);
  });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

export interface WatchedPage {
  page: Page;
  /** CSP refusals, uncaught errors, requests that left the page's origin. */
  problems: string[];
  close(): Promise<void>;
}

export interface PageOptions {
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
  /** Runs before the page is loaded: to route some of its requests, say. */
  prepare?: (page: Page) => Promise<void>;
}

export async function openPage(browser: Browser, url: string, options: PageOptions = {}): Promise<WatchedPage> {
  const context = await browser.newContext({
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const origin = new URL(url).origin;
  const problems: string[] = [];
  await reportCspViolations(page, problems);
  page.on('console', (msg) => {
    const text = msg.text();
    // A refused call (401 before a key, 409 after a run ended) is logged by the browser as a failed
    // load: the page handles those. Anything else logged as an error is a problem.
    // CSP refusals come in with their details from reportCspViolations.
    const reported = /Content Security Policy/.test(text);
    if (
      msg.type() === 'error' &&
      !reported &&
      !/^Failed to load resource: the server responded with a status of/.test(text)
    ) {
      const at = msg.location();
      problems.push(`console: ${text}${at.url ? ` (at ${at.url}:${at.lineNumber}:${at.columnNumber})` : ''}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('request', (req) => {
    const target = req.url();
    if (!target.startsWith(`${origin}/`) && !target.startsWith('data:')) problems.push(`left the origin: ${target}`);
  });
  await options.prepare?.(page);
  await page.goto(url);
  return { page, problems, close: () => context.close() };
}

/** The browser's own report of each CSP refusal: which directive, a sample of what was refused, and where. */
async function reportCspViolations(page: Page, problems: string[]): Promise<void> {
  await page.exposeBinding('__sbxCspViolation', (_source, detail: string) => {
    problems.push(`csp: ${detail}`);
  });
  await page.addInitScript(() => {
    type Violation = { violatedDirective: string; sample: string; sourceFile: string; lineNumber: number };
    const g = globalThis as unknown as {
      addEventListener(name: string, listener: (e: Violation) => void): void;
      __sbxCspViolation(detail: string): void;
    };
    g.addEventListener('securitypolicyviolation', (e) =>
      g.__sbxCspViolation(
        `${e.violatedDirective} refused ${JSON.stringify(e.sample)} at ${e.sourceFile}:${e.lineNumber}`,
      ),
    );
  });
}
