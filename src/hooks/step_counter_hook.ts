import type { JsonValue } from '../data/state';
import { InvalidArgumentError } from '../errors';
import type { StatefulCallback } from './callback_state';
import { type SessionRunContext, SessionRunHook } from './session_run_hook';
import { requirePositiveInteger, requirePositiveSeconds, SecondOrStepTimer, type TimerOptions } from './timer';

/** Options of {@link StepCounterHook}: at most one of `everyNSteps` / `everyNSecs` (default every 100 steps). */
export interface StepCounterHookOptions {
  /** Report every N global steps (positive integer). */
  everyNSteps?: number;
  /** Report every N seconds (positive). */
  everyNSecs?: number;
  /** Where reports go; default `console.log`. */
  log?: (message: string) => void;
  /** Clock in milliseconds, for tests; default `performance.now()`. */
  now?: () => number;
}

/**
 * Measures training speed (TF's `StepCounterHook`): every N steps or seconds it logs
 * `global_step/sec: <rate> (global step <n>)` and keeps the rate in {@link stepsPerSec}. The measurement
 * restarts at each fit, so pauses between fits are not counted.
 */
export class StepCounterHook extends SessionRunHook implements StatefulCallback {
  private readonly timer: SecondOrStepTimer;
  private readonly log: (message: string) => void;
  private lastRate: number | null = null;

  /** @throws InvalidArgumentError when both intervals are given or the one given is not positive. */
  constructor(options: StepCounterHookOptions = {}) {
    super();
    const { everyNSteps, everyNSecs, now } = options;
    if (everyNSteps !== undefined && everyNSecs !== undefined) {
      throw new InvalidArgumentError(
        `StepCounterHook takes everyNSteps or everyNSecs, not both (got everyNSteps=${everyNSteps}, everyNSecs=${everyNSecs}).`,
      );
    }
    if (everyNSteps !== undefined) requirePositiveInteger('everyNSteps', everyNSteps, 'StepCounterHook');
    if (everyNSecs !== undefined) requirePositiveSeconds('everyNSecs', everyNSecs, 'StepCounterHook');
    const timerOptions: TimerOptions =
      everyNSecs !== undefined ? { everySecs: everyNSecs, now } : { everySteps: everyNSteps ?? 100, now };
    this.timer = new SecondOrStepTimer(timerOptions);
    this.log = options.log ?? ((message) => console.log(message));
  }

  /** The last measured rate in global steps per second, or `null` before the first measurement. */
  get stepsPerSec(): number | null {
    return this.lastRate;
  }

  override begin(): void {
    this.timer.reset();
  }

  /** The report timer's state, so a resumed run reports at the same steps as an uninterrupted one. */
  saveState(): JsonValue {
    return this.timer.saveState();
  }

  /** Continue the report timer from {@link saveState} (applied after `begin`). */
  restoreState(state: JsonValue): void {
    this.timer.restoreState(state);
  }

  override afterRun(ctx: SessionRunContext): void {
    const step = ctx.session.globalStep;
    if (!this.timer.shouldTriggerForStep(step)) return;
    const [elapsedSecs, elapsedSteps] = this.timer.updateLastTriggeredStep(step);
    // The first trigger only starts the clock; a zero interval (coarse clock) gives no meaningful rate.
    if (elapsedSecs === null || elapsedSteps === null || elapsedSecs <= 0) return;
    this.lastRate = elapsedSteps / elapsedSecs;
    this.log(`global_step/sec: ${formatNumber(this.lastRate)} (global step ${step})`);
  }
}

/** Up to 6 significant digits without trailing zeros, like C's `%g` (shared with LoggingTensorHook). */
export function formatNumber(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toPrecision(6))) : String(value);
}
