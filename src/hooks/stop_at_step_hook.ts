import type { JsonValue } from '../data/state';
import { InvalidArgumentError } from '../errors';
import { requireRecord, requireStepOrNull, type StatefulCallback } from './callback_state';
import { StopStepAlreadyReachedError } from './errors';
import { type SessionRunContext, SessionRunHook } from './session_run_hook';
import { requirePositiveInteger } from './timer';
import type { TrainingSession } from './training_session';

/** Stop after `numSteps` more steps, or once the global step reaches `lastStep`; exactly one of the two. */
export type StopAtStepOptions =
  | {
      /** Steps to train in each `fit`, counted from the global step at its start (a positive integer). */
      numSteps: number;
      /** Not allowed together with `numSteps`. */
      lastStep?: undefined;
    }
  | {
      /** Absolute global step to stop at (a positive integer), so a resumed run trains only what is left. */
      lastStep: number;
      /** Not allowed together with `lastStep`. */
      numSteps?: undefined;
    };

/**
 * Stops training at an exact global step (TF's `StopAtStepHook`): after the step that brings
 * `session.globalStep` to the last step, it requests a stop, so tfjs ends `fit` right after that batch and
 * the run has trained exactly up to that step.
 *
 * - `numSteps` counts from the global step at `afterCreateSession`, i.e. at the start of each `fit`
 *   (a tfjs `fit` is one TF session): "train `numSteps` more steps".
 * - `lastStep` is absolute: with a global step restored from a checkpoint, a resumed job trains only the
 *   remaining steps.
 *
 * When `fit` starts with the global step already at or past `lastStep`, tfjs would still run one batch
 * (nothing can skip it once `fit` began), overshooting the target. The hook refuses instead: it throws
 * {@link StopStepAlreadyReachedError} from `afterCreateSession`, before any batch, leaving the weights
 * untouched. Check {@link remainingSteps} before calling `fit` to skip it when training is complete.
 */
export class StopAtStepHook extends SessionRunHook implements StatefulCallback {
  private readonly numSteps: number | undefined;
  private lastStep_: number | undefined;
  /** A restored stop step that the next start keeps instead of counting `numSteps` again. */
  private restoredLastStep: number | undefined;

  /** @throws InvalidArgumentError when both or neither are given, or the one given is not a positive integer. */
  constructor(options: StopAtStepOptions) {
    super();
    const { numSteps, lastStep } = options as { numSteps?: number; lastStep?: number };
    if ((numSteps === undefined) === (lastStep === undefined)) {
      throw new InvalidArgumentError(
        `StopAtStepHook takes exactly one of numSteps or lastStep (got numSteps=${numSteps}, lastStep=${lastStep}).`,
      );
    }
    if (numSteps !== undefined) requirePositiveInteger('numSteps', numSteps, 'StopAtStepHook');
    if (lastStep !== undefined) requirePositiveInteger('lastStep', lastStep, 'StopAtStepHook');
    this.numSteps = numSteps;
    this.lastStep_ = lastStep;
  }

  /** The global step training stops at; with `numSteps`, known once a fit has started. */
  get lastStep(): number | undefined {
    return this.lastStep_;
  }

  /**
   * Steps a fit starting at `globalStep` would train: `numSteps`, or what is left until `lastStep`
   * (0 when training is complete — do not call `fit` then).
   */
  remainingSteps(globalStep: number): number {
    if (this.numSteps !== undefined) return this.numSteps;
    return Math.max(0, (this.lastStep_ as number) - globalStep);
  }

  /** `{lastStep}`: the absolute stop step (`null` before a `numSteps` hook started). */
  saveState(): JsonValue {
    return { lastStep: this.lastStep_ ?? null };
  }

  /**
   * Continue from {@link saveState}: with `numSteps`, the next start keeps the saved stop step, so a resumed
   * run stops where the uninterrupted one would have, not `numSteps` after the restart (a configured
   * `lastStep` is already absolute and stays as configured).
   * @throws CallbackStateError when `state` is not `{lastStep: non-negative integer | null}`.
   */
  restoreState(state: JsonValue): void {
    const lastStep = requireStepOrNull(requireRecord(state, 'StopAtStepHook').lastStep, 'StopAtStepHook.lastStep');
    // A configured absolute lastStep is the user's target and wins (a restart may raise it to train more).
    if (lastStep !== null && this.numSteps !== undefined) this.restoredLastStep = lastStep;
  }

  override afterCreateSession(session: TrainingSession): void {
    if (this.restoredLastStep !== undefined) this.lastStep_ = this.restoredLastStep;
    else if (this.numSteps !== undefined) this.lastStep_ = session.globalStep + this.numSteps;
    this.restoredLastStep = undefined;
    const lastStep = this.lastStep_ as number;
    if (session.globalStep >= lastStep) throw new StopStepAlreadyReachedError(session.globalStep, lastStep);
  }

  override afterRun(ctx: SessionRunContext): void {
    if (ctx.session.globalStep >= (this.lastStep_ as number)) ctx.requestStop();
  }
}
