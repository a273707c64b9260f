/**
 * The output console: stdout, stderr (marked), what the person typed, and the page's own notes, in
 * the order they happened. Consecutive pieces of one kind share a span, so a chatty program does not
 * grow the DOM by one node per chunk.
 */
import { h } from './dom.js';

export type ConsoleKind = 'stdout' | 'stderr' | 'input' | 'note' | 'error' | 'test';

const LABELS: Partial<Record<ConsoleKind, string>> = { stderr: 'stderr', input: 'your input' };

export class ConsoleView {
  private last: { kind: ConsoleKind; node: HTMLElement } | null = null;
  private lastTest: number | undefined;
  /** Characters of program output shown: a cheap check that anything ran. */
  outputChars = 0;

  constructor(
    private readonly root: HTMLElement,
    /** The element that scrolls: the console and the figures under it. */
    private readonly scroller: HTMLElement,
    private readonly placeholder: string,
  ) {
    this.clear();
  }

  clear(): void {
    this.root.replaceChildren(h('span', { class: 'placeholder', text: this.placeholder }));
    this.last = null;
    this.lastTest = undefined;
    this.outputChars = 0;
  }

  /** Program output; `test` is the test case it belongs to, which starts a headed section when it changes. */
  output(kind: 'stdout' | 'stderr', text: string, test?: number): void {
    if (test !== undefined && test !== this.lastTest) {
      this.lastTest = test;
      this.block('test', `Test ${test + 1}`);
    }
    this.outputChars += text.length;
    this.append(kind, text);
  }

  /** What the person sent to the program, echoed where the program's prompt is. */
  input(text: string): void {
    this.append('input', text);
  }

  /** The page's own line (queued, restarted, truncated, a refusal): on a line of its own. */
  note(text: string, kind: 'note' | 'error' = 'note'): void {
    this.block(kind, text);
  }

  private block(kind: ConsoleKind, text: string): void {
    this.dropPlaceholder();
    // A block of its own in the stylesheet: it starts a new line whether or not the output ended one.
    this.keepingScroll(() => this.root.append(h('span', { class: `line ${kind}`, text })));
    this.last = null;
  }

  private append(kind: ConsoleKind, text: string): void {
    if (!text) return;
    this.dropPlaceholder();
    this.keepingScroll(() => {
      if (this.last?.kind === kind) {
        this.last.node.append(text);
        return;
      }
      const label = LABELS[kind];
      const node = h('span', { class: kind, text, attrs: label ? { title: label } : {} });
      this.root.append(node);
      this.last = { kind, node };
    });
  }

  private dropPlaceholder(): void {
    this.root.querySelector(':scope > .placeholder')?.remove();
  }

  /** Follows the output while the person is at the bottom; leaves the view alone when they scrolled up. */
  private keepingScroll(change: () => void): void {
    const el = this.scroller;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    change();
    if (atBottom) el.scrollTop = el.scrollHeight;
  }
}
