import { CheckpointError, ResumableError } from '../errors';

/**
 * A hook failed with an unexpected error. The message names the hook's class and the lifecycle method
 * (`LoggingTensorHook.afterRun`) and the global step; the original error is in `cause`.
 *
 * Errors that are already a {@link ResumableError} (e.g. {@link NanLossDuringTrainingError}, checkpoint
 * errors) are deliberate, typed signals and leave `fit` unwrapped so callers can catch them by class.
 */
export class HookError extends ResumableError {
  /** The error the hook threw. */
  declare readonly cause: unknown;

  /**
   * Wraps what a hook threw; the message reads `<hookName>.<method> threw at global step <n>: <reason>`.
   * @param globalStep completed steps when the hook threw, for the message.
   * @param cause what the hook threw; its message is quoted.
   */
  constructor(
    /** Class name of the hook that threw. */
    readonly hookName: string,
    /** Lifecycle method that threw (`begin`, `afterCreateSession`, `beforeRun`, `afterRun`, `end`). */
    readonly method: string,
    globalStep: number,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${hookName}.${method} threw at global step ${globalStep}: ${reason}`, { cause });
  }
}

/** The training loss became NaN or infinite (raised by `NanTensorHook`). */
export class NanLossDuringTrainingError extends ResumableError {
  /** The message says how to recover (learning rate, input, last good checkpoint). */
  constructor(
    /** Global step (completed steps, including the one that produced the loss). */
    readonly step: number,
    /** The offending loss value (NaN, Infinity or -Infinity). */
    readonly loss: number,
  ) {
    super(
      `Loss is ${loss} at global step ${step}: the model diverged. Lower the learning rate, check the input ` +
        `for NaN/Inf values, or restore the last good checkpoint.`,
    );
  }
}

/**
 * `StopAtStepHook`'s last step was already reached when `fit` started. tfjs runs at least one batch once
 * `fit` has begun, which would train past the target, so the hook refuses before any batch runs.
 */
export class StopStepAlreadyReachedError extends ResumableError {
  /** The message tells the caller to skip `fit` when `remainingSteps` is 0. */
  constructor(
    /** Global step when training started. */
    readonly globalStep: number,
    /** The step training was to stop at. */
    readonly lastStep: number,
  ) {
    super(
      `StopAtStepHook: global step ${globalStep} is already at or past lastStep ${lastStep}; fit would still run ` +
        `one batch and overshoot. Training is complete: skip the fit call when ` +
        `hook.remainingSteps(globalStep) === 0.`,
    );
  }
}

/**
 * `HookCallback` could not find the model it trains. tfjs gives a callback its model through `setModel`,
 * which it skips when it treats the callback list as plain configs (the first entry is a plain object).
 */
export class ModelNotReachableError extends ResumableError {}

/**
 * The hook and callback states saved in a checkpoint do not fit this run: a state value is malformed, or the
 * checkpoint was written by a run with other stateful hooks or callbacks (another list, another order).
 */
export class CallbackStateError extends CheckpointError {}

/**
 * A hook that writes through `@tensorflow/tfjs-node` (`SummarySaverHook`) ran where tfjs-node does not load,
 * or where its `tensorflow` backend is not the active one. The message says what to install or switch to.
 */
export class TfjsNodeRequiredError extends ResumableError {}
