/** The verdict badge (status, time, memory) and the figures a run drew. */
import { h, show } from './dom.js';
import { formatBytes, formatMemory, formatSeconds, statusLabel, type Tone } from './format.js';
import type { Artifact, RunResult } from './wire.js';

export class VerdictBadge {
  constructor(
    private readonly badge: HTMLElement,
    private readonly stats: HTMLElement,
  ) {
    this.idle();
  }

  idle(): void {
    this.set('Ready', 'neutral', false);
    this.stats.replaceChildren();
  }

  /** A run underway: `busy` shows the spinner. */
  progress(label: string): void {
    this.set(label, 'info', true);
    this.stats.replaceChildren();
  }

  failed(label: string): void {
    this.set(label, 'bad', false);
  }

  result(result: RunResult): void {
    const { label, tone } = statusLabel(result.status);
    if (result.summary) {
      // Judged against tests: the count is the verdict; the status only when the run itself failed.
      const { passed, total } = result.summary;
      const failed = result.status === 'ok' ? '' : ` · ${label}`;
      this.set(`${passed}/${total} passed${failed}`, passed === total ? 'good' : 'bad', false);
    } else this.set(label, tone, false);
    const exit = result.exit_code !== null && result.exit_code !== 0 ? [stat('exit', String(result.exit_code))] : [];
    this.stats.replaceChildren(
      stat('time', formatSeconds(result.time)),
      stat('memory', formatMemory(result.memory_kb)),
      ...exit,
    );
  }

  private set(label: string, tone: Tone, busy: boolean): void {
    this.badge.className = `badge tone-${tone}${busy ? ' busy' : ''}`;
    this.badge.textContent = label;
  }
}

function stat(name: string, value: string): HTMLElement {
  return h('span', { class: 'stat', attrs: { 'data-stat': name } }, [
    h('span', { class: 'stat-name', text: name }),
    h('span', { class: 'stat-value', text: value }),
  ]);
}

/** Images inline (data: URLs, which the CSP allows for img); other files as download links. */
export function renderFigures(root: HTMLElement, artifacts: Artifact[] | undefined): void {
  const items = (artifacts ?? []).filter((a) => a.data !== undefined);
  root.replaceChildren(...items.map(figure));
  show(root, items.length > 0);
}

function figure(artifact: Artifact): HTMLElement {
  const href = `data:${artifact.mime};base64,${artifact.data ?? ''}`;
  const caption = h('figcaption', {}, [
    h('span', { text: artifact.name }),
    h('a', { text: 'Download', attrs: { href, download: artifact.name.split('/').pop() ?? artifact.name } }),
  ]);
  if (!artifact.mime.startsWith('image/'))
    return h('figure', { class: 'file' }, [
      h('span', { class: 'file-size', text: formatBytes(artifact.bytes) }),
      caption,
    ]);
  return h('figure', {}, [h('img', { attrs: { src: href, alt: `${artifact.name}, drawn by the program` } }), caption]);
}
