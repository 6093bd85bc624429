import type { JsonValue } from '../data/state';
import { InvalidArgumentError } from '../errors';
import { requireRecord, requireStepOrNull, type StatefulCallback } from './callback_state';

/** When a {@link SecondOrStepTimer} fires: every N steps or every N seconds, never both. */
export type TimerOptions =
  | {
      /** Fire every this many steps (a positive integer). */
      everySteps: number;
      /** Not allowed together with `everySteps`. */
      everySecs?: undefined;
      /** Clock in milliseconds, injectable for tests; default `performance.now()`. */
      now?: () => number;
    }
  | {
      /** Fire once this many seconds (a positive number) have passed since the last trigger. */
      everySecs: number;
      /** Not allowed together with `everySecs`. */
      everySteps?: undefined;
      /** Clock in milliseconds, injectable for tests; default `performance.now()`. */
      now?: () => number;
    };

/** Default clock in milliseconds. Wall time only decides *when* hooks log or save, never data or weights. */
function defaultNow(): number {
  return performance.now();
}

/**
 * Fires every `everySteps` steps or every `everySecs` seconds (TF's `SecondOrStepTimer`), shared by every
 * periodic hook so they all agree on what "every N" means:
 * - the first query (or the first after {@link reset}) always fires;
 * - it never fires twice for the step it last fired at;
 * - with `everySteps`, it fires once `step >= lastTriggeredStep + everySteps` (steps may jump);
 * - with `everySecs`, it fires once `everySecs` seconds have passed since it last fired.
 *
 * The caller decides whether to act and then calls {@link updateLastTriggeredStep}.
 */
export class SecondOrStepTimer implements StatefulCallback {
  private readonly everySteps: number | undefined;
  private readonly everySecs: number | undefined;
  private readonly now: () => number;
  private lastStep: number | null = null;
  private lastTimeMs: number | null = null;

  /**
   * @param options exactly one of `everySteps` (positive integer) or `everySecs` (positive number);
   *   `now` is an injectable clock in milliseconds (default `performance.now()`), for tests.
   * @throws InvalidArgumentError when both or neither are given, or the one given is not positive.
   */
  constructor(options: TimerOptions) {
    const { everySteps, everySecs } = options as { everySteps?: number; everySecs?: number };
    if (everySteps === undefined && everySecs === undefined) {
      throw new InvalidArgumentError('SecondOrStepTimer needs either everySteps or everySecs; neither was given.');
    }
    if (everySteps !== undefined && everySecs !== undefined) {
      throw new InvalidArgumentError(
        `SecondOrStepTimer takes everySteps or everySecs, not both (got everySteps=${everySteps}, everySecs=${everySecs}); pick one.`,
      );
    }
    if (everySteps !== undefined) requirePositiveInteger('everySteps', everySteps, 'SecondOrStepTimer');
    if (everySecs !== undefined) requirePositiveSeconds('everySecs', everySecs, 'SecondOrStepTimer');
    this.everySteps = everySteps;
    this.everySecs = everySecs;
    this.now = options.now ?? defaultNow;
  }

  /** Forget the last trigger: the next {@link shouldTriggerForStep} fires. */
  reset(): void {
    this.lastStep = null;
    this.lastTimeMs = null;
  }

  /** Whether the timer fires at `step` (see the class doc for the rules). */
  shouldTriggerForStep(step: number): boolean {
    if (this.lastStep === null) return true;
    if (this.lastStep === step) return false;
    if (this.everySecs !== undefined && this.lastTimeMs !== null) {
      if (this.now() - this.lastTimeMs >= this.everySecs * 1000) return true;
    }
    if (this.everySteps !== undefined && step >= this.lastStep + this.everySteps) return true;
    return false;
  }

  /**
   * Record that the timer fired at `step`.
   * @returns `[elapsedSecs, elapsedSteps]` since the previous trigger, or `[null, null]` on the first.
   */
  updateLastTriggeredStep(step: number): [number | null, number | null] {
    const nowMs = this.now();
    const elapsed: [number | null, number | null] =
      this.lastStep === null || this.lastTimeMs === null
        ? [null, null]
        : [(nowMs - this.lastTimeMs) / 1000, step - this.lastStep];
    this.lastTimeMs = nowMs;
    this.lastStep = step;
    return elapsed;
  }

  /** The step the timer last fired at, or `null` if it never fired (since the last {@link reset}). */
  lastTriggeredStep(): number | null {
    return this.lastStep;
  }

  /** `{lastStep}`: the step it last fired at (wall-clock times mean nothing in another process). */
  saveState(): JsonValue {
    return { lastStep: this.lastStep };
  }

  /**
   * Continue from {@link saveState}: step cadences go on from the saved step; a seconds interval restarts
   * its clock now, as the previous process's clock is gone.
   * @throws CallbackStateError when `state` is not `{lastStep: non-negative integer | null}`.
   */
  restoreState(state: JsonValue): void {
    const lastStep = requireStepOrNull(requireRecord(state, 'SecondOrStepTimer').lastStep, 'SecondOrStepTimer.lastStep');
    this.lastStep = lastStep;
    this.lastTimeMs = lastStep === null ? null : this.now();
  }
}

/**
 * Throw an {@link InvalidArgumentError} unless `value` is a positive integer; shared by every hook that
 * takes a step count so the message is the same everywhere.
 */
export function requirePositiveInteger(name: string, value: number, owner: string): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`${owner}: ${name} must be a positive integer number of steps, got ${value}.`);
  }
}

/** Throw an {@link InvalidArgumentError} unless `value` is a positive, finite number of seconds. */
export function requirePositiveSeconds(name: string, value: number, owner: string): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`${owner}: ${name} must be a positive number of seconds, got ${value}.`);
  }
}
