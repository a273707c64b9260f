/**
 * The API key (kept in sessionStorage: gone when the tab closes, never in the URL or a cookie) and
 * what GET /info says this caller may use: the environments for the picker, and whether the server
 * runs interactive jobs.
 */
import { type Api, ApiFailure } from './api.js';
import { h } from './dom.js';
import type { Info } from './wire.js';

const KEY_STORAGE = 'sbx.playground.apiKey';

export function storedKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function storeKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage refused (a private window's quota, a policy): the key still works for this page
  }
}

/** GET /info, or the reason it failed. */
export async function loadInfo(api: Api): Promise<Info | ApiFailure> {
  try {
    return await api.json<Info>('GET', 'info');
  } catch (err) {
    return err instanceof ApiFailure ? err : new ApiFailure(0, 'error', String(err));
  }
}

/**
 * Fills the environment picker. Keeps the current choice when the server still offers it; an
 * environment no live worker has built is listed but disabled (a job there would be refused).
 */
export function fillEnvironments(select: HTMLSelectElement, info: Info, wanted?: string): void {
  const keep = wanted ?? select.value;
  const options = info.environments.map((env) => {
    const label = env.workers > 0 ? env.name : `${env.name} (no worker)`;
    const option = h('option', { text: label, attrs: { value: env.name, title: env.description } });
    option.disabled = env.workers === 0;
    return option;
  });
  select.replaceChildren(...options);
  const fallback = info.environments.find((e) => e.default)?.name ?? info.environments[0]?.name ?? '';
  select.value = info.environments.some((e) => e.name === keep) ? keep : fallback;
  select.disabled = options.length === 0;
}

/** One line about the server for the footer: runtime and sandbox. */
export function describeServer(info: Info): string {
  const sandbox = info.sandbox[0];
  const where = sandbox?.runtime === 'runsc' ? 'gVisor' : (sandbox?.runtime ?? 'no worker live');
  const seconds = info.limits.time_ms.default / 1000;
  const limit = `${seconds.toFixed(Number.isInteger(seconds) ? 0 : 1)} s time limit`;
  const live = info.limits.interactive ? ' · interactive input' : '';
  return `Python ${info.runtime.version} · ${where} · ${limit}${live}`;
}
