/**
 * Test cases: stdin and expected output per test, judged by the server (the `tests` of a job), each
 * shown with its verdict, time and memory after a run.
 */
import { h, show } from './dom.js';
import { formatMemory, formatSeconds, verdictLabel } from './format.js';
import type { TestCaseDraft } from './job-request.js';
import type { TestResult } from './wire.js';

export type { TestCaseDraft };

interface Row {
  root: HTMLElement;
  stdin: HTMLTextAreaElement;
  expected: HTMLTextAreaElement;
  verdict: HTMLElement;
}

export class TestsPanel {
  private rows: Row[] = [];

  constructor(
    private readonly list: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly onChange: () => void,
  ) {
    this.refresh();
  }

  get count(): number {
    return this.rows.length;
  }

  cases(): TestCaseDraft[] {
    return this.rows.map((r) => ({ stdin: r.stdin.value, expected_output: r.expected.value }));
  }

  setCases(cases: TestCaseDraft[]): void {
    for (const row of this.rows) row.root.remove();
    this.rows = [];
    for (const c of cases) this.add(c, false);
    this.refresh();
  }

  add(initial: TestCaseDraft = { stdin: '', expected_output: '' }, focus = true): void {
    const stdin = textarea('Input', initial.stdin);
    const expected = textarea('Expected output', initial.expected_output);
    const verdict = h('span', { class: 'chip', attrs: { 'aria-live': 'polite' } });
    const remove = h('button', { class: 'icon-button', text: '✕', attrs: { type: 'button', title: 'Remove test' } });
    const title = h('span', { class: 'test-title' });
    const root = h('div', { class: 'test-case' }, [
      h('div', { class: 'test-head' }, [title, verdict, remove]),
      h('div', { class: 'test-fields' }, [field('Input', stdin), field('Expected output', expected)]),
    ]);
    const row: Row = { root, stdin, expected, verdict };
    remove.addEventListener('click', () => {
      this.rows = this.rows.filter((r) => r !== row);
      root.remove();
      this.refresh();
    });
    for (const area of [stdin, expected]) area.addEventListener('input', () => this.onChange());
    this.rows.push(row);
    this.list.append(root);
    this.refresh();
    if (focus) stdin.focus();
  }

  /** Clears the verdicts: a new run is under way. */
  resetVerdicts(): void {
    for (const row of this.rows) setChip(row.verdict, '', '');
  }

  showResults(results: TestResult[] | undefined): void {
    this.rows.forEach((row, i) => {
      const result = results?.[i];
      if (!result) {
        setChip(row.verdict, '', '');
        return;
      }
      const { label, tone } = verdictLabel(result.verdict);
      const figures =
        result.verdict === 'skipped' ? '' : ` · ${formatSeconds(result.time)} · ${formatMemory(result.memory_kb)}`;
      setChip(row.verdict, `${label}${figures}`, tone);
      row.verdict.title = result.message ?? '';
    });
  }

  private refresh(): void {
    this.rows.forEach((row, i) => {
      const title = row.root.querySelector('.test-title');
      if (title) title.textContent = `Test ${i + 1}`;
    });
    show(this.empty, this.rows.length === 0);
    this.onChange();
  }
}

function textarea(label: string, value: string): HTMLTextAreaElement {
  const area = h('textarea', { class: 'field-input', attrs: { rows: '2', spellcheck: 'false', 'aria-label': label } });
  area.value = value;
  return area;
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'field' }, [h('span', { class: 'field-label', text: label }), control]);
}

function setChip(chip: HTMLElement, text: string, tone: string): void {
  chip.textContent = text;
  chip.className = text ? `chip tone-${tone}` : 'chip';
}
