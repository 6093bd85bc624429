import { constants } from 'os';
import type { DisposableHook } from './hook_callback';
import { type SessionRunContext, SessionRunHook } from './session_run_hook';

/** The part of `process` the hook needs, injectable for tests. */
export interface SignalSource {
  /** Installs `listener` for `signal` (as `process.on`); the return value is ignored. */
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  /** Removes a listener installed by `on` (as `process.removeListener`); the return value is ignored. */
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of {@link PreemptionHook}. */
export interface PreemptionHookOptions {
  /** Signals that mean "you are being preempted"; default `['SIGTERM', 'SIGINT']`. */
  signals?: NodeJS.Signals[];
  /** Where handlers are installed; default the real `process`. */
  process?: SignalSource;
  /**
   * What a second signal does while the run is already stopping: `'ignore'` (default: the current batch
   * and the checkpoint at `end` finish; the scheduler's kill -9 after its grace period still ends the
   * process) or `'exit'` (exit now with `128 + signal number`, e.g. 143 for SIGTERM, losing unsaved work).
   */
  onSecondSignal?: 'ignore' | 'exit';
  /** Called with the exit code for `onSecondSignal: 'exit'`; default `process.exit`. */
  exit?: (code: number) => void;
  /** Where notices go; default `console.warn`. */
  log?: (message: string) => void;
}

/**
 * The preemption guard: turns SIGTERM / SIGINT (a spot VM reclaimed, a scheduler draining the node,
 * Ctrl-C) into a clean stop. Handlers are installed in `begin`; on a signal the hook records it and, at the
 * next `afterRun`, requests a stop, so the batch in flight finishes and `fit` ends normally — a
 * `CheckpointSaverHook` in the same list then saves at `end`, and the restarted job resumes from there.
 *
 * A signal is handled when the event loop gets control, which tfjs gives it between batches; so training
 * stops after the batch during which the handler ran (at most one batch after the signal arrived).
 *
 * Handlers stay installed through every hook's `end` (so a second signal cannot interrupt the final
 * save) and are removed by `dispose()`, which `HookCallback` calls after the last `end`. tfjs skips
 * `onTrainEnd` when `fit` fails; the `HookCallback` then disposes this hook when the failure came from a hook, and otherwise when you call
 * `hookCallback.dispose()` (do it in a `finally`) or at the next fit start. Between fits no handler is
 * installed, so a signal there has Node's default effect (the process ends).
 *
 * Testing note: Jest hands test code a copy of `process` that never receives real signals; inject an
 * `EventEmitter` as `process`, or send real signals to a child process.
 */
export class PreemptionHook extends SessionRunHook implements DisposableHook {
  private readonly signals: NodeJS.Signals[];
  private readonly source: SignalSource;
  private readonly onSecondSignal: 'ignore' | 'exit';
  private readonly exit: (code: number) => void;
  private readonly log: (message: string) => void;
  private signal: NodeJS.Signals | null = null;
  private installed = false;
  private readonly handler = (signal: NodeJS.Signals): void => this.onSignal(signal);

  /** Installs nothing yet: handlers go in at `begin`. Every option has a default (see {@link PreemptionHookOptions}). */
  constructor(options: PreemptionHookOptions = {}) {
    super();
    this.signals = [...new Set(options.signals ?? (['SIGTERM', 'SIGINT'] as NodeJS.Signals[]))];
    this.source = options.process ?? process;
    this.onSecondSignal = options.onSecondSignal ?? 'ignore';
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.log = options.log ?? ((message) => console.warn(message));
  }

  /** The signal that asked this run to stop, or `null` if none arrived during the current/last fit. */
  get signalReceived(): NodeJS.Signals | null {
    return this.signal;
  }

  override begin(): void {
    this.signal = null;
    if (this.installed) return;
    for (const signal of this.signals) this.source.on(signal, this.handler);
    this.installed = true;
  }

  override afterRun(ctx: SessionRunContext): void {
    if (this.signal !== null) ctx.requestStop();
  }

  /**
   * Keeps the handlers: hooks after this one (the `CheckpointSaverHook`) write the final checkpoint in
   * their `end`, and a second signal then must be handled (`onSecondSignal`), not end the process
   * mid-save. `HookCallback` disposes this hook once every hook's `end` has run.
   */
  override end(): void {}

  /**
   * Ends the process the way the signal would have if it had not been caught: exit status 128 + signal
   * number (143 for SIGTERM, 130 for SIGINT), which schedulers (Kubernetes, systemd, batch systems) read
   * as "killed, restart me" rather than success. Does nothing when no signal arrived. Call it after the
   * final checkpoint is durable; `resumableFit` does (unless `exitOnPreemption: false`).
   */
  exitAsSignalled(): void {
    const signal = this.signal;
    if (signal === null) return;
    const code = exitCodeOf(signal);
    this.log(`PreemptionHook: stopped cleanly on ${signal} and saved; exiting with code ${code} so the job is restarted.`);
    this.exit(code);
  }

  /** Remove the signal handlers; idempotent. Called by `HookCallback` after every hook's `end`. */
  dispose(): void {
    if (!this.installed) return;
    for (const signal of this.signals) this.source.removeListener(signal, this.handler);
    this.installed = false;
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (this.signal === null) {
      this.signal = signal;
      this.log(`PreemptionHook: received ${signal}; stopping after the current batch.`);
      return;
    }
    if (this.onSecondSignal === 'exit') {
      const code = exitCodeOf(signal);
      this.log(`PreemptionHook: received ${signal} again while stopping; exiting now with code ${code}.`);
      this.exit(code);
      return;
    }
    this.log(`PreemptionHook: received ${signal} again while stopping; ignored, finishing the current batch.`);
  }
}

/** The status a shell reports for a process ended by `signal`: 128 + its number. */
function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
