/**
 * The playground page: wires the editor, the run controls, the console and the panels together.
 * Loaded as the page's one module script (the CSP allows nothing inline).
 */
import type { EditorView } from '@codemirror/view';
import { Api, type ApiFailure } from './api.js';
import { ConsoleView } from './console-view.js';
import { show } from './dom.js';
import { createEditor, editorText, setEditorText } from './editor.js';
import { type Elements, findElements } from './elements.js';
import { EXAMPLES } from './examples.js';
import { loadDraft, saveDraft, setupExamples, setupShare, showToast } from './program.js';
import { VerdictBadge } from './results-view.js';
import { Runner } from './runner.js';
import { describeServer, fillEnvironments, loadInfo, storedKey, storeKey } from './settings.js';
import { decodeShare, type SharedProgram } from './share.js';
import { TestsPanel } from './tests-panel.js';
import type { Info } from './wire.js';

class Playground {
  private info: Info | null = null;
  /** An environment a link or draft asked for before /info said which exist. */
  private wantedEnvironment: string | undefined;
  private readonly editor: EditorView;
  private readonly tests: TestsPanel;
  private readonly runner: Runner;
  private readonly api: Api;

  constructor(private readonly els: Elements) {
    this.api = new Api({ key: () => els.apiKey.value });
    const saveSoon = debounce(() => saveDraft(this.program()), 400);
    this.editor = createEditor({ parent: els.editor, doc: '', onRun: () => this.run(), onChange: saveSoon });
    this.tests = new TestsPanel(els.testsList, els.testsEmpty, () => {
      els.testsCount.textContent = String(this.tests?.count ?? 0);
      show(els.testsCount, (this.tests?.count ?? 0) > 0);
      saveSoon();
    });
    const console = new ConsoleView(els.console, els.outputScroll, 'Press Run to see the output here.');
    this.runner = new Runner(
      this.api,
      {
        console,
        badge: new VerdictBadge(els.badge, els.stats),
        figures: els.figures,
        tests: this.tests,
        setPhase: (phase) => this.setPhase(phase),
        onUnauthorized: () => this.askForKey('This server needs an API key.'),
      },
      () => this.info,
    );
    els.stdin.addEventListener('input', saveSoon);
  }

  async start(): Promise<void> {
    this.bindControls();
    setupExamples(this.els.examples, EXAMPLES, (p) => this.load(p));
    setupShare(this.els.share, this.els.toast, () => this.program());
    const mac = /Mac|iPhone|iPad/.test(navigator.platform);
    this.els.runKeys.textContent = mac ? '⌘ ↵' : 'Ctrl ↵';
    this.els.footerMod.textContent = mac ? '⌘' : 'Ctrl';
    this.load((await decodeShare(location.hash)) ?? loadDraft() ?? (EXAMPLES[0] as SharedProgram));
    window.addEventListener('hashchange', async () => {
      const linked = await decodeShare(location.hash);
      if (linked) this.load(linked);
    });
    await this.refreshInfo();
    this.editor.focus();
  }

  private bindControls(): void {
    const { els } = this;
    els.run.addEventListener('click', () => this.run());
    els.stop.addEventListener('click', () => void this.runner.stop());
    els.addTest.addEventListener('click', () => {
      this.tests.add();
      els.useTests.checked = true;
    });
    els.tabInput.addEventListener('click', () => this.selectTab('input'));
    els.tabTests.addEventListener('click', () => this.selectTab('tests'));
    els.inputForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const line = els.inputLine.value;
      els.inputLine.value = '';
      void this.runner.sendInput(`${line}\n`);
    });
    els.inputLine.addEventListener('keydown', (event) => {
      if (event.key === 'd' && event.ctrlKey) {
        event.preventDefault();
        void this.runner.closeInput();
      }
    });
    els.sendEof.addEventListener('click', () => void this.runner.closeInput());
    els.keyToggle.addEventListener('click', () => this.toggleKeyRow(els.keyRow.hidden));
    els.apiKey.value = storedKey();
    if (els.apiKey.value) this.toggleKeyRow(true);
    els.apiKey.addEventListener('change', () => {
      storeKey(els.apiKey.value.trim());
      void this.refreshInfo();
    });
  }

  private run(): void {
    if (this.runner.running) return;
    const useTests = this.els.useTests.checked && this.tests.count > 0;
    void this.runner.run({
      code: editorText(this.editor),
      environment: this.els.environment.value || undefined,
      stdin: this.els.stdin.value,
      tests: useTests ? this.tests.cases() : null,
    });
  }

  private setPhase({ running, acceptsInput }: { running: boolean; acceptsInput: boolean }): void {
    const { els } = this;
    els.run.disabled = running;
    els.stop.disabled = !running;
    document.body.classList.toggle('running', running);
    const wasHidden = els.inputForm.hidden;
    show(els.inputForm, acceptsInput);
    if (acceptsInput && wasHidden) els.inputLine.focus();
    if (!running && document.activeElement === els.inputLine) this.editor.focus();
  }

  private program(): SharedProgram {
    return {
      code: editorText(this.editor),
      environment: this.els.environment.value || this.wantedEnvironment || '',
      stdin: this.els.stdin.value,
      tests: this.tests.cases(),
    };
  }

  private load(program: SharedProgram): void {
    setEditorText(this.editor, program.code);
    this.els.stdin.value = program.stdin ?? '';
    this.tests.setCases(program.tests ?? []);
    this.els.useTests.checked = (program.tests?.length ?? 0) > 0;
    this.selectTab(this.els.useTests.checked ? 'tests' : 'input');
    this.wantedEnvironment = program.environment || undefined;
    if (this.info) fillEnvironments(this.els.environment, this.info, this.wantedEnvironment ?? defaultEnv(this.info));
  }

  private selectTab(tab: 'input' | 'tests'): void {
    const { els } = this;
    els.tabInput.setAttribute('aria-selected', String(tab === 'input'));
    els.tabTests.setAttribute('aria-selected', String(tab === 'tests'));
    show(els.panelInput, tab === 'input');
    show(els.panelTests, tab === 'tests');
    // Test cases need more room than the stdin box: the stylesheet grows the drawer for them.
    els.drawer.dataset.tab = tab;
  }

  private async refreshInfo(): Promise<void> {
    const info = await loadInfo(this.api);
    if ('environments' in info) {
      this.info = info;
      fillEnvironments(this.els.environment, info, this.wantedEnvironment);
      this.els.serverInfo.textContent = describeServer(info);
      this.els.keyHint.textContent = 'Kept in this tab only (sessionStorage).';
      return;
    }
    this.els.serverInfo.textContent = `Server: ${info.message}`;
    if ((info as ApiFailure).status === 401)
      this.askForKey(this.els.apiKey.value ? 'That key was refused.' : 'This server needs an API key.');
  }

  private askForKey(message: string): void {
    this.toggleKeyRow(true);
    this.els.keyHint.textContent = `${message} It is kept in this tab only (sessionStorage).`;
    this.els.apiKey.focus();
    showToast(this.els.toast, message);
  }

  private toggleKeyRow(open: boolean): void {
    show(this.els.keyRow, open);
    this.els.keyToggle.setAttribute('aria-expanded', String(open));
  }
}

const defaultEnv = (info: Info) => info.environments.find((e) => e.default)?.name;

function debounce(fn: () => void, ms: number): () => void {
  let timer: number | undefined;
  return () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(fn, ms);
  };
}

void new Playground(findElements()).start();
