import type { JsonValue } from '../data/state';
import { InvalidArgumentError } from '../errors';
import { requireNonNegativeInteger, requireRecord, type StatefulCallback } from './callback_state';
import { SessionRunArgs, type SessionRunContext, SessionRunHook, type SessionRunValues } from './session_run_hook';
import { formatNumber } from './step_counter_hook';
import { requirePositiveInteger, requirePositiveSeconds, SecondOrStepTimer, type TimerOptions } from './timer';

/** Options of {@link LoggingTensorHook}. */
export interface LoggingTensorHookOptions {
  /**
   * Batch logs to print: a list of log names (printed in that order), or a record tag → log name
   * (printed in sorted tag order), e.g. `['loss', 'acc']` or `{ trainLoss: 'loss' }`.
   */
  tensors: string[] | Record<string, string>;
  /** Log every N steps of this fit (positive integer). */
  everyNIter?: number;
  /** Log every N seconds (positive). */
  everyNSecs?: number;
  /** Also log the last step's values at `end`. Enough on its own (then nothing is logged periodically). */
  atEnd?: boolean;
  /** Turns the values (keyed by tag) into the logged line; default `tag = value, ...` plus the elapsed time. */
  formatter?: (values: Record<string, number>) => string;
  /** Where lines go; default `console.log`. */
  log?: (message: string) => void;
  /** Clock in milliseconds, for tests; default `performance.now()`. */
  now?: () => number;
}

/**
 * Prints named batch logs (`loss`, `acc`, ...) every N steps or seconds, and/or at the end (TF's
 * `LoggingTensorHook`). Steps are counted per fit from 0, like TF's iteration count; the first step
 * of each fit is always logged. Default line: `loss = 0.25, acc = 0.5 (1.234 sec)`, the time being
 * the wall time since the previous line (omitted on the first).
 */
export class LoggingTensorHook extends SessionRunHook implements StatefulCallback {
  private readonly tags: string[];
  private readonly fetches: Record<string, string>;
  private readonly timer: SecondOrStepTimer | null;
  private readonly atEnd: boolean;
  private readonly formatter: ((values: Record<string, number>) => string) | undefined;
  private readonly log: (message: string) => void;
  private iteration = 0;
  private shouldTrigger = false;
  private lastValues: Record<string, number> | null = null;

  /**
   * @throws InvalidArgumentError when no batch log is named, or when neither `atEnd` nor exactly one of
   *   `everyNIter` / `everyNSecs` is given, or an interval is not positive.
   */
  constructor(options: LoggingTensorHookOptions) {
    super();
    const { tensors, everyNIter, everyNSecs, now } = options;
    if (Array.isArray(tensors)) {
      this.tags = [...tensors];
      this.fetches = Object.fromEntries(tensors.map((name) => [name, name]));
    } else {
      this.tags = Object.keys(tensors).sort();
      this.fetches = { ...tensors };
    }
    if (this.tags.length === 0) {
      throw new InvalidArgumentError('LoggingTensorHook: tensors names no batch log; give at least one, e.g. ["loss"].');
    }
    this.atEnd = options.atEnd ?? false;
    const onlyAtEnd = this.atEnd && everyNIter === undefined && everyNSecs === undefined;
    if (!onlyAtEnd && (everyNIter === undefined) === (everyNSecs === undefined)) {
      throw new InvalidArgumentError(
        `LoggingTensorHook needs atEnd and/or exactly one of everyNIter or everyNSecs (got everyNIter=${everyNIter}, ` +
          `everyNSecs=${everyNSecs}, atEnd=${this.atEnd}).`,
      );
    }
    if (everyNIter !== undefined) requirePositiveInteger('everyNIter', everyNIter, 'LoggingTensorHook');
    if (everyNSecs !== undefined) requirePositiveSeconds('everyNSecs', everyNSecs, 'LoggingTensorHook');
    const timerOptions: TimerOptions | null = onlyAtEnd
      ? null
      : everyNSecs !== undefined
        ? { everySecs: everyNSecs, now }
        : { everySteps: everyNIter as number, now };
    this.timer = timerOptions === null ? null : new SecondOrStepTimer(timerOptions);
    this.formatter = options.formatter;
    this.log = options.log ?? ((message) => console.log(message));
  }

  override begin(): void {
    this.timer?.reset();
    this.iteration = 0;
    this.lastValues = null;
  }

  /** `{iteration, timer}`: the steps counted since the start and the log timer, so logs land on the same steps. */
  saveState(): JsonValue {
    return { iteration: this.iteration, timer: this.timer?.saveState() ?? null };
  }

  /**
   * Continue from {@link saveState} (applied after `begin`).
   * @throws CallbackStateError when `state` is not such a value.
   */
  restoreState(state: JsonValue): void {
    const record = requireRecord(state, 'LoggingTensorHook');
    const iteration = requireNonNegativeInteger(record.iteration, 'LoggingTensorHook.iteration');
    if (this.timer !== null) this.timer.restoreState(record.timer ?? null);
    this.iteration = iteration;
  }

  override beforeRun(): SessionRunArgs | void {
    this.shouldTrigger = this.timer?.shouldTriggerForStep(this.iteration) ?? false;
    // At-end logging needs the last step's values, so they are fetched every step then.
    if (this.shouldTrigger || this.atEnd) return new SessionRunArgs(this.fetches);
  }

  override afterRun(_ctx: SessionRunContext, values: SessionRunValues): void {
    if (this.atEnd) this.lastValues = values.results;
    if (this.shouldTrigger) this.logValues(values.results);
    this.iteration += 1;
  }

  override end(): void {
    if (this.atEnd && this.lastValues !== null) this.logValues(this.lastValues);
  }

  private logValues(values: Record<string, number>): void {
    const [elapsedSecs] = this.timer?.updateLastTriggeredStep(this.iteration) ?? [null];
    if (this.formatter !== undefined) {
      this.log(this.formatter(values));
      return;
    }
    const stats = this.tags.map((tag) => `${tag} = ${formatNumber(values[tag])}`).join(', ');
    this.log(elapsedSecs === null ? stats : `${stats} (${elapsedSecs.toFixed(3)} sec)`);
  }
}
