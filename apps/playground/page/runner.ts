/**
 * One run at a time: submit the job, follow its live events into the console, send typed input to an
 * interactive run, stop it on request, and show the result (verdict, figures, test verdicts).
 */
import { type Api, ApiFailure } from './api.js';
import type { ConsoleView } from './console-view.js';
import { followJob, type JobStreamEvent } from './events.js';
import { base64Text, formatBytes, queuedLabel } from './format.js';
import { InputSender } from './input.js';
import { type RunRequest, submission, wantsInteractive } from './job-request.js';
import { renderFigures, type VerdictBadge } from './results-view.js';
import type { TestsPanel } from './tests-panel.js';
import type { Info, JobAccepted, JobEventPayloads, JobView, StdinAccepted } from './wire.js';

export interface RunViews {
  console: ConsoleView;
  badge: VerdictBadge;
  figures: HTMLElement;
  tests: TestsPanel;
  /** The run's phase: the buttons and the input line follow it. */
  setPhase(phase: { running: boolean; acceptsInput: boolean }): void;
  /** The server wants an API key (401). */
  onUnauthorized(message: string): void;
}

interface CurrentRun {
  id: string | null;
  abort: AbortController;
  input: InputSender | null;
  interactive: boolean;
  stopAsked: boolean;
  /** The input line is shown for this run. */
  inputOpen: boolean;
  view: JobView | null;
}

export class Runner {
  private current: CurrentRun | null = null;

  constructor(
    private readonly api: Api,
    private readonly views: RunViews,
    private readonly info: () => Info | null,
  ) {}

  get running(): boolean {
    return this.current !== null;
  }

  /** Runs the program; resolves when the run is over and shown (never rejects: failures are shown). */
  async run(request: RunRequest): Promise<void> {
    if (this.current) return;
    const info = this.info();
    const interactive = wantsInteractive(request, info);
    const run: CurrentRun = {
      id: null,
      abort: new AbortController(),
      input: null,
      interactive,
      stopAsked: false,
      inputOpen: false,
      view: null,
    };
    this.current = run;
    this.start();
    try {
      const accepted = await this.api.json<JobAccepted>('POST', 'jobs', submission(request, info, interactive));
      run.id = accepted.id;
      if (interactive) run.input = this.inputFor(accepted.id, info);
      this.views.badge.progress(queuedLabel(accepted.position, accepted.eta_seconds));
      if (run.stopAsked) void this.cancel(run);
      await followJob(this.api, accepted.id, {
        signal: run.abort.signal,
        onEvent: (event) => this.onEvent(run, event),
        // One drop is routine (a proxy's idle cut) and resumes with nothing lost: only say so when it keeps failing.
        onReconnect: (failures) => {
          if (failures >= 2) this.views.console.note(`Connection lost; reconnecting (attempt ${failures})…`);
        },
      });
      this.finish(run.view ?? (await this.api.json<JobView>('GET', `jobs/${encodeURIComponent(accepted.id)}`)));
    } catch (err) {
      this.fail(err);
    } finally {
      run.abort.abort();
      this.current = null;
      this.views.setPhase({ running: false, acceptsInput: false });
    }
  }

  /** Stop: cancels the job (DELETE /jobs/:id); its result, `cancelled`, arrives on the stream. */
  async stop(): Promise<void> {
    const run = this.current;
    if (!run || run.stopAsked) return;
    run.stopAsked = true;
    this.views.badge.progress('Stopping');
    this.views.setPhase({ running: true, acceptsInput: false });
    if (run.id) await this.cancel(run);
  }

  /** A line the person typed into the running program: echoed, then sent. */
  async sendInput(text: string): Promise<void> {
    const input = this.current?.input;
    if (!input || input.isClosed) return;
    this.views.console.input(text);
    await input.send(text);
  }

  /** End of input: the program's next read gets EOF. */
  async closeInput(): Promise<void> {
    const input = this.current?.input;
    if (!input || input.isClosed) return;
    this.views.console.note('End of input sent');
    await input.eof();
  }

  private start(): void {
    const { console, badge, tests, figures } = this.views;
    console.clear();
    tests.resetVerdicts();
    renderFigures(figures, undefined);
    badge.progress('Submitting');
    this.views.setPhase({ running: true, acceptsInput: false });
  }

  private inputFor(id: string, info: Info | null): InputSender {
    const path = `jobs/${encodeURIComponent(id)}/stdin`;
    return new InputSender({
      post: (body) => this.api.json<StdinAccepted>('POST', path, body),
      maxCallBytes: info?.limits.interactive?.max_input_call_bytes ?? 65_536,
      onClosed: (failure) => {
        if (this.current?.id !== id) return;
        this.views.setPhase({ running: true, acceptsInput: false });
        if (failure.code !== 'job_finished') this.views.console.note(`Input closed: ${failure.message}`);
      },
    });
  }

  private async cancel(run: CurrentRun): Promise<void> {
    try {
      await this.api.json<unknown>('DELETE', `jobs/${encodeURIComponent(run.id ?? '')}`);
    } catch (err) {
      // Already over: its result is on its way.
      if (!(err instanceof ApiFailure && err.code === 'job_finished')) this.fail(err);
    }
  }

  private onEvent(run: CurrentRun, event: JobStreamEvent): void {
    const { console, badge } = this.views;
    switch (event.type) {
      case 'status': {
        const status = event.data as JobEventPayloads['status'];
        if (status.state === 'queued') badge.progress(queuedLabel(status.position, status.eta_seconds));
        else if (!run.stopAsked) {
          badge.progress('Running');
          this.openInput(run);
        }
        return;
      }
      case 'stdout':
      case 'stderr': {
        // Output means it runs, even when a resumed stream skipped the running status.
        this.openInput(run);
        const chunk = event.data as JobEventPayloads['stdout'];
        console.output(event.type, 'text' in chunk ? chunk.text : base64Text(chunk.base64), chunk.test);
        return;
      }
      case 'truncated': {
        const { limit_bytes } = event.data as JobEventPayloads['truncated'];
        console.note(`Output stopped here: the cap is ${formatBytes(limit_bytes)}`);
        return;
      }
      case 'run':
        console.clear();
        console.note('The run started again after a fault on our side; its output starts over.');
        return;
      case 'result':
        run.view = event.data as JobView;
        return;
    }
  }

  /** Shows the input line once an interactive run is running (once: it keeps what the person typed). */
  private openInput(run: CurrentRun): void {
    if (!run.interactive || run.inputOpen || run.stopAsked || run.input?.isClosed) return;
    run.inputOpen = true;
    this.views.setPhase({ running: true, acceptsInput: true });
  }

  private finish(view: JobView): void {
    const { console, badge, tests, figures } = this.views;
    const result = view.result;
    if (!result) {
      badge.failed('No result');
      return;
    }
    if (console.outputChars === 0) {
      // The stream had nothing to show (a viewer that came too late for it): the result is the copy.
      console.output('stdout', result.stdout);
      console.output('stderr', result.stderr);
    }
    if (result.message && result.status !== 'ok')
      console.note(result.message, result.status === 'cancelled' ? 'note' : 'error');
    badge.result(result);
    renderFigures(figures, result.artifacts);
    tests.showResults(result.tests);
  }

  private fail(err: unknown): void {
    if (this.current?.abort.signal.aborted) return;
    const failure = err instanceof ApiFailure ? err : new ApiFailure(0, 'error', String(err));
    this.views.badge.failed(failure.status === 401 ? 'API key needed' : 'Not run');
    this.views.console.note(failure.message, 'error');
    if (failure.status === 401) this.views.onUnauthorized(failure.message);
  }
}
