/** The program as a whole: its draft in localStorage, the Examples menu, and the Share button. */
import { h } from './dom.js';
import type { Example } from './examples.js';
import { encodeShare, type SharedProgram } from './share.js';

const DRAFT_STORAGE = 'sbx.playground.draft';

/** The last program typed in this browser, so a reload loses nothing. */
export function loadDraft(): SharedProgram | null {
  try {
    const raw = localStorage.getItem(DRAFT_STORAGE);
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as SharedProgram).code === 'string')
      return parsed as SharedProgram;
  } catch {
    // no storage, or not ours: start from the first example
  }
  return null;
}

export function saveDraft(program: SharedProgram): void {
  try {
    localStorage.setItem(DRAFT_STORAGE, JSON.stringify(program));
  } catch {
    // storage full or refused: the draft is only a convenience
  }
}

export function setupExamples(select: HTMLSelectElement, examples: Example[], load: (p: SharedProgram) => void): void {
  select.append(...examples.map((e, i) => h('option', { text: e.title, attrs: { value: String(i) } })));
  select.addEventListener('change', () => {
    const example = examples[Number(select.value)];
    select.value = '';
    if (example) load(example);
  });
}

/**
 * Share: puts the program in this page's fragment and copies the link. The fragment never leaves
 * the browser, so the server does not see shared code.
 */
export function setupShare(button: HTMLButtonElement, toast: HTMLElement, program: () => SharedProgram): void {
  button.addEventListener('click', async () => {
    const fragment = await encodeShare(program());
    history.replaceState(null, '', `#${fragment}`);
    const link = location.href;
    try {
      await navigator.clipboard.writeText(link);
      showToast(toast, 'Link copied: the code travels in the link itself, not to the server.');
    } catch {
      // No clipboard (an insecure origin, a refusal): the address bar holds the link.
      showToast(toast, 'The link is in the address bar: copy it from there.');
    }
  });
}

let toastTimer: number | undefined;

export function showToast(toast: HTMLElement, message: string): void {
  toast.textContent = message;
  toast.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    toast.hidden = true;
  }, 3500);
}
