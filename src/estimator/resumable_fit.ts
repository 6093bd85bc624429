import * as tf from '@tensorflow/tfjs';
import { restoreLatest } from '../checkpoint/checkpoint_manager';
import { consoleLogger, type CheckpointLogger } from '../checkpoint/logger';
import { parseBoundedJson, isJsonObject } from '../checkpoint/safe_json';
import type { CheckpointStorage } from '../checkpoint/storage';
import { CheckpointableDataset } from '../data/dataset';
import { checkDeterminism } from './determinism_check';
import { INPUT_PIPELINE_SAVEABLE_NAME, makeSaveableFromIterator } from '../data/saveable';
import { CorruptCheckpointError, InvalidArgumentError } from '../errors';
import { CheckpointSaverHook } from '../hooks/checkpoint_saver_hook';
import type { CheckpointSaverListener } from '../hooks/checkpoint_saver_listener';
import { HookCallback } from '../hooks/hook_callback';
import { PreemptionHook, type PreemptionHookOptions } from '../hooks/preemption_hook';
import type { SessionRunHook } from '../hooks/session_run_hook';
import type { TrainingSession } from '../hooks/training_session';

/** Name of the extra blob that records where in the epoch loop a checkpoint was taken. */
export const FIT_POSITION_SAVEABLE_NAME = 'fit_position';

/** Options of {@link resumableFit}. Exactly one of `saveSteps` / `saveSecs`. */
export interface ResumableFitOptions {
  /** Checkpoint directory (local path or `s3://bucket/prefix`), or an opened storage. */
  modelDir: string | CheckpointStorage;
  /** Checkpoint every N steps. */
  saveSteps?: number;
  /** Checkpoint every N seconds. */
  saveSecs?: number;
  /** Newest checkpoints kept. Default 5. */
  keepCheckpointMax?: number;
  /** More hooks, run before the checkpoint saver. */
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
  /** Where restores, fallbacks and failed background saves are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
}

/** Where a run was when a checkpoint was taken. */
export interface FitPosition {
  /** The epoch (0-based, as tfjs counts) the checkpoint was taken in. */
  epoch: number;
  /** Batches done in that epoch. */
  stepInEpoch: number;
}

/** What {@link resumableFit} did. */
export interface ResumableFitResult {
  /** The histories of the `fitDataset` calls made (one, or two when a partial epoch was finished first). */
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
  /** Whether all `epochs` are done (false after a preemption or a hook's stop request). */
  completed: boolean;
}

/**
 * `model.fitDataset` that survives preemption, in one call. It restores the latest checkpoint of
 * `modelDir` (weights, optimizer slots, global step, and the input pipeline's exact position, which rides
 * inside the same checkpoint), finishes the interrupted epoch from the next batch, runs the remaining
 * epochs, and checkpoints every `saveSteps` steps / `saveSecs` seconds and at the end. On SIGTERM/SIGINT
 * it finishes the current batch, saves and returns with `preemptedBy` set. Run it again after a crash
 * and it continues exactly as if never interrupted (same backend, bit for bit).
 *
 * `dataset` must be a `data.*` dataset built the same way on every start (a different pipeline is
 * refused with `PipelineMismatchError`). With `batchesPerEpoch`, the dataset should `repeat()` as tfjs
 * requires; a partly done epoch is finished with a first `fitDataset` call of the remaining batches.
 */
export async function resumableFit<T extends tf.TensorContainer>(
  model: tf.LayersModel,
  dataset: CheckpointableDataset<T>,
  fitArgs: tf.ModelFitDatasetArgs<T>,
  options: ResumableFitOptions,
): Promise<ResumableFitResult> {
  if (!(dataset instanceof CheckpointableDataset)) {
    throw new InvalidArgumentError(
      'resumableFit needs a dataset built with tfjs-resumable data.* (a CheckpointableDataset), so its position ' +
        'can be saved; tf.data datasets restart from the beginning on resume.',
    );
  }
  if (fitArgs === null || typeof fitArgs !== 'object' || !Number.isInteger(fitArgs.epochs) || fitArgs.epochs <= 0) {
    throw new InvalidArgumentError(`resumableFit: fitArgs.epochs must be a positive integer, got ${fitArgs?.epochs}.`);
  }
  const batchesPerEpoch = fitArgs.batchesPerEpoch;
  if (batchesPerEpoch !== undefined && !(Number.isInteger(batchesPerEpoch) && batchesPerEpoch > 0)) {
    throw new InvalidArgumentError(`resumableFit: fitArgs.batchesPerEpoch must be a positive integer, got ${batchesPerEpoch}.`);
  }
  const logger = options.logger ?? consoleLogger;
  const inputSaveable = makeSaveableFromIterator(dataset, INPUT_PIPELINE_SAVEABLE_NAME);
  const preemption =
    options.preemption === false ? undefined : new PreemptionHook(options.preemption === true ? {} : options.preemption);
  const saver = new CheckpointSaverHook(options.modelDir, {
    ...(options.saveSteps !== undefined ? { saveSteps: options.saveSteps } : {}),
    ...(options.saveSecs !== undefined ? { saveSecs: options.saveSecs } : {}),
    keepCheckpointMax: options.keepCheckpointMax,
    ...(options.listeners !== undefined ? { listeners: options.listeners } : {}),
    logger,
    collectExtras: (session: TrainingSession) => ({
      [INPUT_PIPELINE_SAVEABLE_NAME]: inputSaveable.save(),
      [FIT_POSITION_SAVEABLE_NAME]: encodePosition({ epoch: session.epoch, stepInEpoch: session.stepInEpoch }),
    }),
  });

  const restored = await restoreLatest(model, options.modelDir, { logger });
  let position: FitPosition = { epoch: fitArgs.initialEpoch ?? 0, stepInEpoch: 0 };
  let restoredFrom: ResumableFitResult['restoredFrom'] = null;
  if (restored !== null) {
    const input = restored.extras[INPUT_PIPELINE_SAVEABLE_NAME];
    const saved = restored.extras[FIT_POSITION_SAVEABLE_NAME];
    if (input === undefined || saved === undefined) {
      throw new CorruptCheckpointError(
        `Checkpoint ${restored.path} was not written by resumableFit (it has no input pipeline position): ` +
          'use a fresh modelDir, or resume it with restoreLatest and your own loop.',
      );
    }
    position = decodePosition(saved, restored.path);
    inputSaveable.restore(input);
    restoredFrom = { path: restored.path, globalStep: restored.globalStep, position };
  }

  for (const warning of checkDeterminism(model, [dataset], { freshStart: restored === null })) logger.warn(warning);
  const hooks = [...(options.hooks ?? []), ...(preemption !== undefined ? [preemption] : []), saver];
  const callback = new HookCallback(hooks, {
    model,
    dataset,
    globalStep: restored?.globalStep ?? 0,
    epoch: position.epoch,
    stepInEpoch: position.stepInEpoch,
  });
  const userCallbacks = fitArgs.callbacks === undefined ? [] : Array.isArray(fitArgs.callbacks) ? fitArgs.callbacks : [fitArgs.callbacks];
  const fit = (args: Partial<tf.ModelFitDatasetArgs<T>>): Promise<tf.History> =>
    model.fitDataset(dataset, { ...fitArgs, ...args, callbacks: [callback, ...userCallbacks] } as tf.ModelFitDatasetArgs<T>);

  const histories: tf.History[] = [];
  let stopped = false;
  try {
    let epoch = position.epoch;
    if (batchesPerEpoch !== undefined) {
      let done = position.stepInEpoch;
      if (done >= batchesPerEpoch) {
        epoch += 1;
        done = 0;
      }
      if (done > 0 && epoch < fitArgs.epochs) {
        // Finish the interrupted epoch with exactly its remaining batches, then continue the same stream.
        histories.push(await fit({ initialEpoch: epoch, epochs: epoch + 1, batchesPerEpoch: batchesPerEpoch - done }));
        stopped = model.stopTraining;
        epoch += 1;
        dataset.restoreState(dataset.saveState());
      }
    }
    if (!stopped && epoch < fitArgs.epochs) {
      histories.push(await fit({ initialEpoch: epoch }));
      stopped = model.stopTraining;
    }
  } finally {
    await callback.dispose();
  }
  // Only here: every hook's end (the final save) has finished without throwing.
  if (preemption?.signalReceived != null && options.exitOnPreemption !== false) preemption.exitAsSignalled();
  return {
    histories,
    restoredFrom,
    globalStep: callback.globalStep,
    preemptedBy: preemption?.signalReceived ?? null,
    completed: !stopped,
  };
}

function encodePosition(position: FitPosition): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(position));
}

function decodePosition(bytes: Uint8Array, source: string): FitPosition {
  const value = parseBoundedJson(bytes, 4096, `${source} ${FIT_POSITION_SAVEABLE_NAME}`);
  const valid =
    isJsonObject(value) &&
    Number.isInteger(value.epoch) &&
    (value.epoch as number) >= 0 &&
    Number.isInteger(value.stepInEpoch) &&
    (value.stepInEpoch as number) >= 0;
  if (!valid) {
    throw new CorruptCheckpointError(
      `Checkpoint ${source}: ${FIT_POSITION_SAVEABLE_NAME} is not {epoch, stepInEpoch} non-negative integers.`,
    );
  }
  return { epoch: value.epoch as number, stepInEpoch: value.stepInEpoch as number };
}
