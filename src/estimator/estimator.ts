import * as tf from '@tensorflow/tfjs';
import { listCheckpoints, restoreLatest, type RestoredCheckpoint } from '../checkpoint/checkpoint_manager';
import { consoleLogger, type CheckpointLogger } from '../checkpoint/logger';
import type { Saveable } from '../data/saveable';
import { InvalidArgumentError, ResumableError } from '../errors';
import { BlobCheckpointStore } from '../checkpoint/blob_checkpoint_store';
import { acquireCheckpointLock, type HeldLock } from '../checkpoint/lock_wait';
import { closeStorage, openStorage, parseModelDir, withStorage } from '../checkpoint/open_storage';
import { inputCheckpointNames } from '../checkpoint/input_checkpoint';
import { CheckpointWriter } from '../checkpoint/checkpoint_writer';
import { CheckpointInputPipelineHook } from '../hooks/checkpoint_input_pipeline_hook';
import { CheckpointSaverHook } from '../hooks/checkpoint_saver_hook';
import { HookCallback } from '../hooks/hook_callback';
import type { SessionRunHook } from '../hooks/session_run_hook';
import { StopAtStepHook } from '../hooks/stop_at_step_hook';
import type { CheckpointableInput } from '../hooks/training_session';
import { RunConfig, type RunConfigOptions } from './run_config';
import { checkDeterminism } from './determinism_check';

/** What an input function returns: a dataset of `{xs, ys}` batches (ideally a checkpointable `data.*` one). */
export type EstimatorInput = tf.data.Dataset<tf.TensorContainer>;

/** Builds the input of one `train` / `evaluate` call, as TF's `input_fn`. Called once per call. */
export type InputFn = () => EstimatorInput | Promise<EstimatorInput>;

/** Options of {@link Estimator}. */
export interface EstimatorOptions {
  /** A compiled tfjs model (its optimizer is part of every checkpoint). */
  model: tf.LayersModel;
  /** Where checkpoints go (local directory or `s3://bucket/prefix`). Default: `config.modelDir`. */
  modelDir?: string;
  /** Run configuration (checkpoint cadence, retention, cluster). Default `new RunConfig()`. */
  config?: RunConfig | RunConfigOptions;
  /** Where restores and fallbacks are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
}

/** Options of {@link Estimator.train}; `steps` and `maxSteps` are exclusive, as in TF. */
export interface TrainOptions {
  /** Train this many more steps (or until the input is exhausted). */
  steps?: number;
  /** Train until the global step reaches this; does nothing when it already has. */
  maxSteps?: number;
  /** Extra hooks, run before the Estimator's own saver (so an input checkpoint of a step lands first). */
  hooks?: SessionRunHook[];
  /** States saved inside every model checkpoint and restored with it (see `makeSaveableFromIterator`). */
  saveables?: Saveable[];
}

/** Options of {@link Estimator.evaluate}. */
export interface EvaluateOptions {
  /** Evaluate at most this many batches. Default: the whole input. */
  steps?: number;
}

/**
 * TF's Estimator loop for a tfjs model: `train` restores the latest checkpoint (weights, optimizer slots,
 * global step), trains with hooks and checkpoints per `RunConfig`; `evaluate` scores the latest state.
 * With `CheckpointInputPipelineHook(estimator)` in the hooks, every `train` call also continues the
 * data where the previous one stopped:
 *
 * ```ts
 * while (true) {
 *   await est.train(trainInput, { hooks: [new CheckpointInputPipelineHook(est)], steps: 100 });
 *   const metrics = await est.evaluate(evalInput);
 *   if (shouldStop(metrics)) break;
 * }
 * ```
 *
 * Several workers (`config.numWorkerReplicas > 1`) may share one modelDir: only the chief writes model
 * checkpoints. There is no shared global step variable as in TF's parameter-server setup, so a non-chief
 * worker restores the chief's latest weights but takes its global step from its own newest input
 * checkpoint (`input_<taskType>_<taskId>.ckpt-<step>`), 0 when it has none: its step counts the batches
 * it consumed, and its input resumes exactly where it stopped.
 */
export class Estimator {
  /** The compiled model this Estimator trains, evaluates and checkpoints (weights and optimizer state). */
  readonly model: tf.LayersModel;
  /** Where checkpoints live: the `modelDir` option, else `config.modelDir`. */
  readonly modelDir: string;
  /** The run configuration; options given as a plain object are turned into a `RunConfig`. */
  readonly config: RunConfig;
  private readonly logger: CheckpointLogger;
  private globalStep_ = 0;

  /** @throws InvalidArgumentError when `model` is not a `tf.LayersModel` or no modelDir is given. */
  constructor(options: EstimatorOptions) {
    if (options === null || typeof options !== 'object' || !(options.model instanceof tf.LayersModel)) {
      throw new InvalidArgumentError('Estimator needs { model: a compiled tf.LayersModel, modelDir, config? }.');
    }
    this.config = options.config instanceof RunConfig ? options.config : new RunConfig(options.config ?? {});
    const modelDir = options.modelDir ?? this.config.modelDir;
    if (typeof modelDir !== 'string' || modelDir.length === 0) {
      throw new InvalidArgumentError('Estimator needs a modelDir (option or config.modelDir) to keep its checkpoints in.');
    }
    this.model = options.model;
    parseModelDir(modelDir);
    this.modelDir = modelDir;
    this.logger = options.logger ?? consoleLogger;
  }

  /** Completed training steps as of the last `train` call (or restore). */
  get globalStep(): number {
    return this.globalStep_;
  }

  /**
   * Restores the latest checkpoint, then trains for `steps` more steps, up to `maxSteps`, or until the
   * input is exhausted; saves checkpoints per config (chief only) and at the end.
   */
  async train(inputFn: InputFn, options: TrainOptions = {}): Promise<this> {
    const { steps, maxSteps } = options;
    if (steps !== undefined && maxSteps !== undefined) {
      throw new InvalidArgumentError('Estimator.train: give steps or maxSteps, not both (as in TF).');
    }
    for (const [name, value] of [['steps', steps], ['maxSteps', maxSteps]] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new InvalidArgumentError(`Estimator.train: ${name} must be a positive integer, got ${value}.`);
      }
    }
    const saveables = options.saveables ?? [];
    if (!this.config.isChief) {
      await this.trainFromLatest(inputFn, options, saveables, undefined);
      return this;
    }
    // The chief takes the writer lock before it restores: a job that waited for it then continues from the
    // checkpoint its predecessor finished.
    const lockStorage = openStorage(this.modelDir);
    try {
      const heldLock = await acquireCheckpointLock(lockStorage, { lockWaitMs: this.config.lockWaitMs, logger: this.logger });
      try {
        await this.trainFromLatest(inputFn, options, saveables, heldLock);
      } finally {
        await heldLock();
      }
    } finally {
      closeStorage(lockStorage);
    }
    return this;
  }

  /** `train` after the lock: restore, then fit with the hooks (the saver only on the chief, under `heldLock`). */
  private async trainFromLatest(
    inputFn: InputFn,
    options: TrainOptions,
    saveables: Saveable[],
    heldLock: HeldLock | undefined,
  ): Promise<void> {
    const { steps, maxSteps } = options;
    const restored = await this.restore(saveables);
    if (maxSteps !== undefined && this.globalStep_ >= maxSteps) {
      this.logger.warn(`Skipping training: global step ${this.globalStep_} has already reached maxSteps ${maxSteps}.`);
      return;
    }
    const dataset = await this.callInputFn(inputFn, 'train');
    for (const warning of checkDeterminism(this.model, [dataset], { freshStart: restored === null })) this.logger.warn(warning);
    const hooks: SessionRunHook[] = [...(options.hooks ?? [])];
    if (steps !== undefined) hooks.push(new StopAtStepHook({ numSteps: steps }));
    if (maxSteps !== undefined) hooks.push(new StopAtStepHook({ lastStep: maxSteps }));
    if (heldLock !== undefined) {
      // One writer per run: the saver's, shared by the input hooks writing the same modelDir.
      const writer = new CheckpointWriter(this.modelDir, { background: this.config.backgroundCheckpointWrites, logger: this.logger });
      for (const hook of hooks) {
        if (hook instanceof CheckpointInputPipelineHook && hook.modelDir === this.modelDir) hook.shareWriter(writer);
      }
      hooks.push(
        new CheckpointSaverHook(this.modelDir, {
          heldLock,
          writer,
          ...(this.config.saveCheckpointsSteps !== undefined
            ? { saveSteps: this.config.saveCheckpointsSteps }
            : { saveSecs: this.config.saveCheckpointsSecs }),
          keepCheckpointMax: this.config.keepCheckpointMax,
          background: this.config.backgroundCheckpointWrites,
          collectExtras: () => Object.fromEntries(saveables.map((s) => [s.name, s.save()])),
          logger: this.logger,
        }),
      );
    }
    const callback = new HookCallback(hooks, {
      model: this.model,
      modelDir: this.modelDir,
      globalStep: this.globalStep_,
      epoch: restored?.epoch ?? 0,
      datasets: isCheckpointable(dataset) ? [dataset] : [],
    });
    try {
      await this.model.fitDataset(dataset, { epochs: 1, verbose: 0, callbacks: [callback] });
    } finally {
      await callback.dispose();
    }
    this.globalStep_ = callback.globalStep;
  }

  /**
   * Evaluates the latest checkpoint (or the model as it is, when there is none) on the input;
   * returns the loss and compiled metrics by name, plus `globalStep`.
   */
  async evaluate(inputFn: InputFn, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    if (options.steps !== undefined && !(Number.isInteger(options.steps) && options.steps > 0)) {
      throw new InvalidArgumentError(`Estimator.evaluate: steps must be a positive integer, got ${options.steps}.`);
    }
    await this.restore([]);
    const dataset = await this.callInputFn(inputFn, 'evaluate');
    // tfjs types evaluateDataset's input as Dataset<{}>; a TensorContainer dataset is what it consumes.
    const result = await this.model.evaluateDataset(dataset as tf.data.Dataset<tf.TensorContainerObject>, options.steps !== undefined ? { batches: options.steps } : {});
    const scalars = Array.isArray(result) ? result : [result];
    const metrics: Record<string, number> = {};
    const names = this.model.metricsNames;
    for (let i = 0; i < scalars.length; i++) metrics[names[i] ?? `metric_${i}`] = (await scalars[i].data())[0];
    tf.dispose(scalars);
    metrics.globalStep = this.globalStep_;
    return metrics;
  }

  /** Storage-relative path of the newest checkpoint (`model.ckpt-<step>`), or `null` when there is none. */
  async latestCheckpoint(): Promise<string | null> {
    const latest = (await listCheckpoints(this.modelDir)).filter((c) => c.latest);
    return latest.length > 0 ? latest[0].path : null;
  }

  private async restore(saveables: Saveable[]): Promise<RestoredCheckpoint | null> {
    const restored = await restoreLatest(this.model, this.modelDir, { logger: this.logger });
    const nonChief = this.isNonChiefWorker();
    // Without a shared global step variable, the chief's model checkpoint says nothing about how far a
    // non-chief worker got: its step is its own, recorded only by its input checkpoints. Taking the
    // chief's step would make it restore an input checkpoint from another point of its stream (and
    // number new ones below its existing ones, so a later restore picks a stale one).
    this.globalStep_ = nonChief ? await this.ownInputCheckpointStep() : (restored?.globalStep ?? 0);
    if (restored === null) return null;
    if (nonChief && saveables.length > 0) {
      this.logger.warn(
        `Worker ${this.config.taskType}:${this.config.taskId} is not the chief: states saved inside model checkpoints ` +
          `(${saveables.map((s) => `'${s.name}'`).join(', ')}) are the chief's, so they are not restored here. ` +
          'Use CheckpointInputPipelineHook to checkpoint each worker\'s input.',
      );
      return restored;
    }
    for (const saveable of saveables) {
      const bytes = restored.extras[saveable.name];
      if (bytes === undefined) {
        this.logger.warn(
          `Checkpoint ${restored.path} has no saved state '${saveable.name}' (written without it): that input starts from the beginning.`,
        );
        continue;
      }
      saveable.restore(bytes);
    }
    return restored;
  }

  /** Several workers, and this one does not write model checkpoints. */
  private isNonChiefWorker(): boolean {
    return !this.config.isChief && this.config.numWorkerReplicas > 1;
  }

  /** Step of this worker's newest usable input checkpoint (`input_<taskType>_<taskId>.ckpt-<step>`), or 0. */
  private async ownInputCheckpointStep(): Promise<number> {
    return withStorage(this.modelDir, {}, async (storage) => {
      const store = new BlobCheckpointStore(storage, {
        ...inputCheckpointNames(this.config),
        keepMax: this.config.keepCheckpointMax,
        logger: this.logger,
      });
      return (await store.readLatestValid())?.step ?? 0;
    });
  }

  private async callInputFn(inputFn: InputFn, what: string): Promise<EstimatorInput> {
    if (typeof inputFn !== 'function') {
      throw new InvalidArgumentError(`Estimator.${what} needs an input function returning a dataset, got ${typeof inputFn}.`);
    }
    const dataset = await inputFn();
    if (dataset === null || typeof dataset !== 'object' || typeof (dataset as EstimatorInput).iterator !== 'function') {
      throw new ResumableError(`Estimator.${what}: the input function must return a dataset (data.* or tf.data).`);
    }
    return dataset;
  }
}

function isCheckpointable(dataset: EstimatorInput): dataset is EstimatorInput & CheckpointableInput {
  const candidate = dataset as Partial<CheckpointableInput>;
  return typeof candidate.saveState === 'function' && typeof candidate.restoreState === 'function';
}
