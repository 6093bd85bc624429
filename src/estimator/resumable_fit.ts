import * as tf from '@tensorflow/tfjs';
import { restoreLatest, type RestoredCheckpoint } from '../checkpoint/checkpoint_manager';
import { acquireCheckpointLock, checkLockWaitMs } from '../checkpoint/lock_wait';
import { consoleLogger, type CheckpointLogger } from '../checkpoint/logger';
import { closeStorage, openStorage } from '../checkpoint/open_storage';
import type { CheckpointStorage } from '../checkpoint/storage';
import { CheckpointableDataset } from '../data/dataset';
import { checkDeterminism } from './determinism_check';
import { INPUT_PIPELINE_SAVEABLE_NAME, makeSaveableFromIterator } from '../data/saveable';
import { CorruptCheckpointError, InvalidArgumentError } from '../errors';
import { CallbackStateKeeper } from '../hooks/callback_state_keeper';
import { CheckpointWriter } from '../checkpoint/checkpoint_writer';
import { CheckpointSaverHook } from '../hooks/checkpoint_saver_hook';
import type { CheckpointSaverListener } from '../hooks/checkpoint_saver_listener';
import { HookCallback } from '../hooks/hook_callback';
import { PreemptionHook, type PreemptionHookOptions } from '../hooks/preemption_hook';
import type { SessionRunHook } from '../hooks/session_run_hook';
import type { TrainingSession } from '../hooks/training_session';
import { toCallbackList, type FitCallbacks } from './base_callback';
import { CallbackGate } from './callback_gate';
import { decodeEpochLogSums, encodeEpochLogSums, EpochLogsCallback, EPOCH_LOGS_SAVEABLE_NAME } from './epoch_logs';
import { decodePosition, encodePosition, FIT_POSITION_SAVEABLE_NAME, type FitPosition } from '../checkpoint/fit_position';
import { decodeHistoryRecord, encodeHistoryRecord, FIT_HISTORY_SAVEABLE_NAME, HistoryRecorder } from './history_recorder';
import { ProgressBarCallback } from './progress_bar';
import { planTensorFit } from './resumable_fit_tensors';

export { FIT_POSITION_SAVEABLE_NAME, type FitPosition } from '../checkpoint/fit_position';

/** Seconds between checkpoints when no cadence is given and the epoch length is unknown. */
export const DEFAULT_SAVE_SECS = 60;

/**
 * Options of {@link resumableFit}. At most one of `saveSteps` / `saveSecs`; with neither, a checkpoint is
 * taken once per epoch (every `batchesPerEpoch` steps, or the dataset's batch count when it is known),
 * else every {@link DEFAULT_SAVE_SECS} seconds; and always at the end.
 */
export interface ResumableFitOptions {
  /** Checkpoint directory (local path or `s3://bucket/prefix`), or an opened storage. */
  modelDir: string | CheckpointStorage;
  /** Checkpoint every N steps. */
  saveSteps?: number;
  /** Checkpoint every N seconds. */
  saveSecs?: number;
  /** Newest checkpoints kept. Default 5. */
  keepCheckpointMax?: number;
  /** More hooks, run before the checkpoint saver. Stateful ones ({@link StatefulCallback}) resume their state. */
  hooks?: SessionRunHook[];
  /**
   * Called around every checkpoint save (passed to the {@link CheckpointSaverHook}); `afterSave` runs once
   * a checkpoint is durably written, so it is the place to acknowledge progress to the outside.
   */
  listeners?: CheckpointSaverListener[];
  /**
   * Stop cleanly on SIGTERM/SIGINT after the current batch and save (default `true`); `false` to leave
   * signals alone, or options for the {@link PreemptionHook}.
   */
  preemption?: boolean | PreemptionHookOptions;
  /**
   * After a preemption signal stopped the run and the final checkpoint is durable, end the process with
   * the signal's status (143 for SIGTERM, 130 for SIGINT), as an uncaught signal would: a Kubernetes Job,
   * systemd or a batch scheduler then sees a killed job and restarts it, instead of reading exit 0 as
   * success. Default `true`. `false` returns `{ completed: false, preemptedBy }` instead — then exit
   * non-zero yourself, or the preempted training is never resumed.
   */
  exitOnPreemption?: boolean;
  /**
   * How long to wait, in ms, when another live job holds the modelDir's writer lock (a rolling restart
   * starts the new job while the old one is still writing its final checkpoint): it waits for the holder
   * to release the lock (or for its heartbeat to go stale), printing a progress line through the logger,
   * then resumes from the checkpoint the holder left. Default 0: fail at once with `CheckpointLockHeldError`.
   * Set it above the holder's shutdown time (Kubernetes: `terminationGracePeriodSeconds`).
   */
  lockWaitMs?: number;
  /** Where restores, fallbacks, failed background saves and lock waits are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
  /**
   * Write checkpoints in a background worker thread (default `true`); `false` waits for every save to be
   * durable before the next step, as TF's synchronous saver does.
   */
  background?: boolean;
  /**
   * Seed of the per-epoch shuffle of the tensor form `resumableFit(model, xs, ys, ...)` (fit's `shuffle`,
   * which tfjs draws from `Math.random`). Default 0. Ignored for datasets, which carry their own seeds.
   */
  seed?: string | number;
  /** Where `verbose` output goes (the "Restored ..." line and the epoch lines). Default `console.log`. */
  print?: (line: string) => void;
  /** Where `verbose: 1` draws its progress bar (a TTY; nothing is drawn on a pipe). Default `process.stdout`. */
  progressStream?: NodeJS.WritableStream;
}

/** What {@link resumableFit} did. */
export interface ResumableFitResult {
  /**
   * The run's History, as the uninterrupted `fit` would return it: every finished epoch since the run's
   * first start (restarts included, since the History rides in the checkpoints), with exactly its values.
   */
  history: tf.History;
  /** The histories of the `fitDataset` calls this process made (tfjs's own, one per call). */
  histories: tf.History[];
  /** The checkpoint resumed from, or `null` for a fresh start. */
  restoredFrom: {
    /** Storage-relative path of the checkpoint (`model.ckpt-<step>`). */
    path: string;
    /** Completed steps when it was written. */
    globalStep: number;
    /** Where in the epoch loop it was written. */
    position: FitPosition;
  } | null;
  /** Completed steps at the end. */
  globalStep: number;
  /** The signal that stopped the run early, or `null`. */
  preemptedBy: string | null;
  /** Whether all `epochs` are done (false after a preemption or a stop request). */
  completed: boolean;
}

/**
 * `model.fitDataset` that survives preemption, in one call. It restores the latest checkpoint of
 * `modelDir` (weights, optimizer slots, global step, the input pipeline's exact position, the running sums
 * of the epoch's logs, the History so far and the state of stateful hooks and callbacks such as
 * `tf.callbacks.earlyStopping`, all inside the same checkpoint), finishes the interrupted epoch from the
 * next batch, runs the remaining epochs, and checkpoints on its cadence and at the end. On SIGTERM/SIGINT
 * it finishes the current batch, saves and returns with `preemptedBy` set. Run it again after a crash and
 * it continues exactly as if never interrupted (same backend, bit for bit): weights, epoch logs, History,
 * callbacks.
 *
 * `dataset` must be a `data.*` dataset built the same way on every start (a different pipeline is
 * refused with `PipelineMismatchError`). With `batchesPerEpoch`, the dataset should `repeat()` as tfjs
 * requires. `callbacks` may be tfjs callbacks or plain `{onEpochEnd, ...}` objects. An epoch cut short by a
 * stop request fires no `onEpochEnd`; the run that finishes it does. `verbose: 1` (tfjs's default) shows
 * a progress bar and epoch lines; `verbose: 2` only the epoch lines.
 */
export function resumableFit<T extends tf.TensorContainer>(
  model: tf.LayersModel,
  dataset: CheckpointableDataset<T>,
  fitArgs: tf.ModelFitDatasetArgs<T>,
  options: ResumableFitOptions,
): Promise<ResumableFitResult>;
/**
 * `model.fit(xs, ys, fitArgs)` that survives preemption: the same call with `resumableFit(model, ` in front
 * and the options behind. fit's semantics: `batchSize` (32), `epochs` (1), `shuffle` (true; seeded by
 * `options.seed`, a new permutation each epoch), `validationSplit` (the last rows, before shuffling),
 * `validationData`, `initialEpoch`, `classWeight`, `callbacks`, `verbose`. Killed at any batch and
 * started again, the final weights and the History equal the uninterrupted run's, bit for bit.
 */
export function resumableFit(
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor,
  fitArgs: tf.ModelFitArgs | undefined,
  options: ResumableFitOptions,
): Promise<ResumableFitResult>;
export async function resumableFit<T extends tf.TensorContainer>(
  model: tf.LayersModel,
  input: CheckpointableDataset<T> | tf.Tensor,
  third: tf.ModelFitDatasetArgs<T> | tf.Tensor,
  fourth: ResumableFitOptions | tf.ModelFitArgs | undefined,
  fifth?: ResumableFitOptions,
): Promise<ResumableFitResult> {
  if (input instanceof tf.Tensor) {
    const options = requireOptions(fifth);
    const plan = planTensorFit(input, third as tf.Tensor, fourth as tf.ModelFitArgs | undefined, options.seed);
    try {
      return await runResumableFit(model, plan.dataset, plan.args, options, plan.stepsPerEpoch);
    } finally {
      tf.dispose(plan.owned);
    }
  }
  if (!(input instanceof CheckpointableDataset)) {
    throw new InvalidArgumentError(
      'resumableFit needs a dataset built with tfjs-resumable data.* (a CheckpointableDataset), so its position ' +
        'can be saved; tf.data datasets restart from the beginning on resume.',
    );
  }
  const fitArgs = third as tf.ModelFitDatasetArgs<T>;
  const batchesPerEpoch = fitArgs?.batchesPerEpoch;
  const size = input.size;
  const passLength = batchesPerEpoch ?? (Number.isInteger(size) && size > 0 ? size : undefined);
  return runResumableFit(model, input, fitArgs, requireOptions(fourth as ResumableFitOptions | undefined), passLength);
}

function requireOptions(options: ResumableFitOptions | undefined): ResumableFitOptions {
  if (options === null || typeof options !== 'object' || options.modelDir === undefined) {
    throw new InvalidArgumentError('resumableFit: the last argument must be the options, at least { modelDir }.');
  }
  return options;
}

/** The run behind both forms: `stepsPerEpoch` is the epoch length when known (cadence default, progress bar). */
async function runResumableFit<T extends tf.TensorContainer>(
  model: tf.LayersModel,
  dataset: CheckpointableDataset<T>,
  fitArgs: tf.ModelFitDatasetArgs<T>,
  options: ResumableFitOptions,
  stepsPerEpoch: number | undefined,
): Promise<ResumableFitResult> {
  if (fitArgs === null || typeof fitArgs !== 'object' || !Number.isInteger(fitArgs.epochs) || fitArgs.epochs <= 0) {
    throw new InvalidArgumentError(`resumableFit: fitArgs.epochs must be a positive integer, got ${fitArgs?.epochs}.`);
  }
  const batchesPerEpoch = fitArgs.batchesPerEpoch;
  if (batchesPerEpoch !== undefined && !(Number.isInteger(batchesPerEpoch) && batchesPerEpoch > 0)) {
    throw new InvalidArgumentError(`resumableFit: fitArgs.batchesPerEpoch must be a positive integer, got ${batchesPerEpoch}.`);
  }
  if (options.saveSteps !== undefined && options.saveSecs !== undefined) {
    throw new InvalidArgumentError(
      `resumableFit: give saveSteps or saveSecs, not both (got saveSteps=${options.saveSteps}, saveSecs=${options.saveSecs}); ` +
        'with neither it checkpoints once per epoch.',
    );
  }
  checkLockWaitMs(options.lockWaitMs, 'resumableFit: lockWaitMs');
  const logger = options.logger ?? consoleLogger;
  const print = options.print ?? ((line: string) => console.log(line));
  const verbose = fitArgs.verbose ?? 1;
  const userHooks = options.hooks ?? [];
  const userCallbacks = toCallbackList(fitArgs.callbacks as FitCallbacks | undefined, fitArgs.yieldEvery);

  const inputSaveable = makeSaveableFromIterator(dataset, INPUT_PIPELINE_SAVEABLE_NAME);
  const states = new CallbackStateKeeper({ hooks: userHooks, callbacks: userCallbacks }, logger);
  const epochLogs = new EpochLogsCallback(batchesPerEpoch);
  const recorder = new HistoryRecorder();
  const preemption =
    options.preemption === false ? undefined : new PreemptionHook(options.preemption === true ? {} : options.preemption);
  // The lock is taken before the restore and held across every fitDataset call of the run: a job that
  // waited for it then restores the checkpoint its predecessor finished, and no other job can slip in
  // between two segments.
  const lockStorage = openStorage(options.modelDir);
  let result: ResumableFitResult;
  try {
    const heldLock = await acquireCheckpointLock(lockStorage, { lockWaitMs: options.lockWaitMs, logger });
    try {
      const saver = new CheckpointSaverHook(options.modelDir, {
        heldLock,
        ...saveCadence(options, stepsPerEpoch),
        // One writer per run, handed to the saver explicitly.
        writer: new CheckpointWriter(options.modelDir, { background: options.background, logger }),
        keepCheckpointMax: options.keepCheckpointMax,
        ...(options.listeners !== undefined ? { listeners: options.listeners } : {}),
        logger,
        collectExtras: (session: TrainingSession) => ({
          [INPUT_PIPELINE_SAVEABLE_NAME]: inputSaveable.save(),
          [FIT_POSITION_SAVEABLE_NAME]: encodePosition(
            epochLogs.epochEnded ? { epoch: session.epoch + 1, stepInEpoch: 0 } : { epoch: session.epoch, stepInEpoch: session.stepInEpoch },
          ),
          [EPOCH_LOGS_SAVEABLE_NAME]: encodeEpochLogSums(epochLogs.sums()),
          [FIT_HISTORY_SAVEABLE_NAME]: encodeHistoryRecord(recorder.snapshot()),
          [states.name]: states.save(),
        }),
      });

      const restored = await restoreLatest(model, options.modelDir, { logger });
      let position: FitPosition = { epoch: fitArgs.initialEpoch ?? 0, stepInEpoch: 0 };
      let restoredFrom: ResumableFitResult['restoredFrom'] = null;
      if (restored !== null) {
        position = applyRestore(restored, { inputSaveable, epochLogs, recorder, states, logger });
        restoredFrom = { path: restored.path, globalStep: restored.globalStep, position };
        if (verbose > 0) {
          print(`Restored ${restored.path} (epoch ${position.epoch + 1}, batch ${position.stepInEpoch}) from ${describeDir(options.modelDir)}`);
        }
      }

      for (const warning of checkDeterminism(model, [dataset], { freshStart: restored === null })) logger.warn(warning);
      const start = restored !== null ? { epoch: position.epoch, step: position.stepInEpoch } : undefined;
      const shown = verbose > 0 ? [new ProgressBarCallback({ epochs: fitArgs.epochs, stepsPerEpoch, start, print, bar: verbose === 1, ...(options.progressStream !== undefined ? { stream: options.progressStream } : {}) })] : [];
      const gate = new CallbackGate([...shown, ...userCallbacks, recorder], epochLogs, () => states.applyCallbackStates());
      const hooks = [states, ...userHooks, ...(preemption !== undefined ? [preemption] : []), saver];
      const callback = new HookCallback(hooks, {
        model,
        dataset,
        globalStep: restored?.globalStep ?? 0,
        epoch: position.epoch,
        stepInEpoch: position.stepInEpoch,
      });
      // tfjs-node registers its own progress bar for verbose > 0; the one above replaces it.
      const fit = (data: tf.data.Dataset<T>, args: Partial<tf.ModelFitDatasetArgs<T>>): Promise<tf.History> =>
        model.fitDataset(data, { ...fitArgs, ...args, verbose: 0, callbacks: [epochLogs, callback, gate] } as tf.ModelFitDatasetArgs<T>);

      const histories: tf.History[] = [];
      let stopped = false;
      let failed = true;
      try {
        let epoch = position.epoch;
        let segments = 0;
        /** Between two fitDataset calls of one run: hooks restart at every call, so they carry their states over. */
        const nextSegment = (): void => {
          if (segments++ > 0) states.carryOverHookStates();
        };
        if (batchesPerEpoch !== undefined && epoch < fitArgs.epochs) {
          const done = position.stepInEpoch;
          if (done >= batchesPerEpoch) {
            // The checkpoint was taken after the epoch's last batch, before its end (validation, epoch logs,
            // callbacks): replay that end with an empty pass, then go on with the next epoch.
            nextSegment();
            histories.push(await fit(tf.data.array<T>([]), { initialEpoch: epoch, epochs: epoch + 1, batchesPerEpoch: undefined }));
            stopped = model.stopTraining;
            epoch += 1;
          } else if (done > 0) {
            // Finish the interrupted epoch with exactly its remaining batches, then continue the same stream.
            nextSegment();
            histories.push(await fit(dataset, { initialEpoch: epoch, epochs: epoch + 1, batchesPerEpoch: batchesPerEpoch - done }));
            stopped = model.stopTraining;
            epoch += 1;
            dataset.restoreState(dataset.saveState());
          }
        }
        if (!stopped && epoch < fitArgs.epochs) {
          nextSegment();
          histories.push(await fit(dataset, { initialEpoch: epoch }));
          stopped = model.stopTraining;
        }
        failed = false;
      } finally {
        await callback.dispose();
        if (!failed) await gate.finish();
      }
      result = {
        history: recorder.toHistory(),
        histories,
        restoredFrom,
        globalStep: callback.globalStep,
        preemptedBy: preemption?.signalReceived ?? null,
        completed: !stopped,
      };
    } finally {
      await heldLock();
    }
  } finally {
    if (lockStorage !== options.modelDir) closeStorage(lockStorage);
  }
  // Only here: every hook's end (the final save) has finished without throwing, and the lock is free for
  // the job that replaces this one.
  if (preemption?.signalReceived != null && options.exitOnPreemption !== false) preemption.exitAsSignalled();
  return result;
}

/** The saver's cadence: the one given, else once per epoch when its length is known, else every minute. */
function saveCadence(options: ResumableFitOptions, stepsPerEpoch: number | undefined): { saveSteps: number } | { saveSecs: number } {
  if (options.saveSteps !== undefined) return { saveSteps: options.saveSteps };
  if (options.saveSecs !== undefined) return { saveSecs: options.saveSecs };
  return stepsPerEpoch !== undefined ? { saveSteps: stepsPerEpoch } : { saveSecs: DEFAULT_SAVE_SECS };
}

/** Put a restored checkpoint's extras back; returns where in the epoch loop it was taken. */
function applyRestore(
  restored: RestoredCheckpoint,
  parts: {
    inputSaveable: ReturnType<typeof makeSaveableFromIterator>;
    epochLogs: EpochLogsCallback;
    recorder: HistoryRecorder;
    states: CallbackStateKeeper;
    logger: CheckpointLogger;
  },
): FitPosition {
  const input = restored.extras[INPUT_PIPELINE_SAVEABLE_NAME];
  const saved = restored.extras[FIT_POSITION_SAVEABLE_NAME];
  if (input === undefined || saved === undefined) {
    throw new CorruptCheckpointError(
      `Checkpoint ${restored.path} was not written by resumableFit (it has no input pipeline position): ` +
        'use a fresh modelDir, or resume it with restoreLatest and your own loop.',
    );
  }
  const position = decodePosition(saved, restored.path);
  const sums = restored.extras[EPOCH_LOGS_SAVEABLE_NAME];
  const history = restored.extras[FIT_HISTORY_SAVEABLE_NAME];
  const callbackStates = restored.extras[parts.states.name];
  // Everything is decoded and checked before the input pipeline moves.
  const decodedSums = sums !== undefined ? decodeEpochLogSums(sums, restored.path) : undefined;
  const decodedHistory = history !== undefined ? decodeHistoryRecord(history, restored.path) : undefined;
  if (callbackStates !== undefined) parts.states.restore(callbackStates);
  if (decodedSums === undefined || decodedHistory === undefined || callbackStates === undefined) {
    parts.logger.warn(
      `Checkpoint ${restored.path} was written by an older resumableFit without epoch logs, History or callback ` +
        'states: the resumed epoch reports only its remaining batches and callbacks start afresh.',
    );
  }
  parts.inputSaveable.restore(input);
  if (decodedSums !== undefined) parts.epochLogs.resumeWith(decodedSums);
  if (decodedHistory !== undefined) parts.recorder.resumeWith(decodedHistory);
  return position;
}

function describeDir(modelDir: string | CheckpointStorage): string {
  return typeof modelDir === 'string' ? modelDir : modelDir.constructor.name;
}
