import { BlobCheckpointStore } from '../checkpoint/blob_checkpoint_store';
import { CheckpointWriter } from '../checkpoint/checkpoint_writer';
import type { CheckpointLogger } from '../checkpoint/logger';
import { consoleLogger } from '../checkpoint/logger';
import type { CheckpointStorage } from '../checkpoint/storage';
import { parseModelDir } from '../checkpoint/open_storage';
import { decodeInputCheckpoint, encodeInputCheckpoint, inputCheckpointNames } from '../checkpoint/input_checkpoint';
import { CheckpointError, InvalidArgumentError, ResumableError } from '../errors';
import { SessionRunContext, SessionRunHook } from './session_run_hook';
import { SecondOrStepTimer } from './timer';
import type { CheckpointableInput, TrainingSession } from './training_session';

/** The part of an `Estimator` (or a plain object) this hook reads: where and how often to save. */
export interface InputCheckpointEstimator {
  /** Directory (or `s3://` URL) the input checkpoints are written to, next to the model checkpoints. */
  modelDir: string;
  /** Cadence, retention and worker identity; a `RunConfig` fits. */
  config: {
    /** Save every N global steps. Exactly one of this and `saveCheckpointsSecs` must be set. */
    saveCheckpointsSteps?: number;
    /** Save every N seconds. Exactly one of this and `saveCheckpointsSteps` must be set. */
    saveCheckpointsSecs?: number;
    /** Workers sharing the modelDir (default 1); above 1, file names carry `taskType` and `taskId`. */
    numWorkerReplicas?: number;
    /** This worker's task type, used in file names with several workers; default `'worker'`. */
    taskType?: string;
    /** This worker's index, used in file names with several workers; default 0. */
    taskId?: number;
    /** How many input checkpoints to keep (oldest deleted first); default 5. */
    keepCheckpointMax?: number;
    /** Whether this process writes the model checkpoints (default true); see the class doc. */
    isChief?: boolean;
    /** `false`: every input save is durable before the next step (TF's synchronous saves); a `RunConfig` fits. */
    backgroundCheckpointWrites?: boolean;
  };
}

/** Options of {@link CheckpointInputPipelineHook} beyond TF's. */
export interface CheckpointInputPipelineHookOptions {
  /** Where restores that do not match the model checkpoint are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
  /** Storage to use instead of opening `estimator.modelDir` (tests, custom backends). */
  storage?: CheckpointStorage;
  /**
   * The run's checkpoint writer, shared with the `CheckpointSaverHook` (the Estimator hands its own to
   * this hook). Default: the hook creates its own.
   */
  writer?: CheckpointWriter;
  /**
   * Write in the background (default: `config.backgroundCheckpointWrites`, else `true`): a newer save
   * replaces one still waiting. `false` waits in `afterRun` until each input checkpoint is durable, so
   * every triggered save is written.
   */
  background?: boolean;
}

/** Raised when the run has no checkpointable input pipeline to save. */
export class NoCheckpointableInputError extends ResumableError {}

/**
 * Checkpoints the input pipeline every N steps or seconds, so a resumed run continues the data where
 * it left off: TF's `CheckpointInputPipelineHook`. Files are `input.ckpt-<step>` with the index
 * `checkpoint_input`, or `input_<taskType>_<taskId>.ckpt-<step>` with `checkpoint_input_<taskType>_<taskId>`
 * when `numWorkerReplicas > 1`, next to the model checkpoints.
 *
 * In `afterCreateSession` (before the first element is pulled) it restores the input checkpoint whose
 * step equals the session's global step (the restored model checkpoint's step) — else, or when that one
 * is damaged, the newest usable one, with a warning that data and model are from different steps — or,
 * when there is none, saves one at the current global step. Then it saves on its timer (the first step, then every N) and at `end`.
 *
 * Put it before the `CheckpointSaverHook` in the list: its save for a step is then on disk before the
 * model checkpoint of that step is, so a model checkpoint always has its input checkpoint. Retention
 * (`keepCheckpointMax`) never deletes the input checkpoint of the newest model checkpoint, nor newer
 * ones: model checkpoints are written in the background and can lag several input saves behind.
 */
export class CheckpointInputPipelineHook extends SessionRunHook {
  private readonly timer: SecondOrStepTimer;
  private readonly prefix: string;
  private readonly indexName: string;
  private readonly keepMax: number;
  private readonly logger: CheckpointLogger;
  private store: BlobCheckpointStore | undefined;
  private inputs: CheckpointableInput[] = [];
  private lastSavedStep: number | null = null;
  private writer: CheckpointWriter | undefined;
  private sharedWriter: CheckpointWriter | undefined;
  private lastWriteError: unknown = null;
  private writes: Promise<void> = Promise.resolve();

  /**
   * Reads nothing yet: the storage is opened and the restore happens in `afterCreateSession`.
   * @param estimator an `Estimator`, or any `{ modelDir, config }` with exactly one save cadence.
   * @throws InvalidArgumentError when `estimator` has no string `modelDir`, or not exactly one of
   *   `config.saveCheckpointsSteps` / `config.saveCheckpointsSecs` is set, or it is not positive.
   */
  constructor(
    private readonly estimator: InputCheckpointEstimator,
    private readonly options: CheckpointInputPipelineHookOptions = {},
  ) {
    super();
    if (estimator === null || typeof estimator !== 'object' || typeof estimator.modelDir !== 'string') {
      throw new InvalidArgumentError(
        'CheckpointInputPipelineHook needs an Estimator or { modelDir: string, config: { saveCheckpointsSteps | ' +
          'saveCheckpointsSecs } }.',
      );
    }
    parseModelDir(estimator.modelDir);
    const config = estimator.config ?? {};
    const { saveCheckpointsSteps: steps, saveCheckpointsSecs: secs } = config;
    if ((steps === undefined || steps === null) === (secs === undefined || secs === null)) {
      throw new InvalidArgumentError(
        'CheckpointInputPipelineHook: exactly one of config.saveCheckpointsSteps and config.saveCheckpointsSecs ' +
          `must be set (got ${steps === undefined || steps === null ? 'neither' : 'both'}).`,
      );
    }
    this.timer = new SecondOrStepTimer(steps !== undefined && steps !== null ? { everySteps: steps } : { everySecs: secs as number });
    ({ prefix: this.prefix, indexName: this.indexName } = inputCheckpointNames(config));
    this.keepMax = config.keepCheckpointMax ?? 5;
    this.logger = options.logger ?? consoleLogger;
  }

  /** Name prefix of this hook's files (`input.ckpt` or `input_<taskType>_<taskId>.ckpt`). */
  get checkpointPrefix(): string {
    return this.prefix;
  }

  /** Name of this hook's index file (`checkpoint_input[_<taskType>_<taskId>]`). */
  get latestFilename(): string {
    return this.indexName;
  }

  /** The modelDir this hook writes to (`estimator.modelDir`). */
  get modelDir(): string {
    return this.estimator.modelDir;
  }

  /**
   * Writes through `writer` (the run's, shared with its `CheckpointSaverHook`) instead of one of its own,
   * unless one was given in the options. The Estimator calls it for the hooks passed to `train`.
   */
  shareWriter(writer: CheckpointWriter): void {
    this.sharedWriter = writer;
  }

  override async afterCreateSession(session: TrainingSession): Promise<void> {
    if (session.datasets.length === 0) {
      throw new NoCheckpointableInputError(
        'CheckpointInputPipelineHook found no checkpointable input pipeline in this run. Build the input with ' +
          "tfjs-resumable's data.* (not tf.data) and pass it to HookCallback ({ dataset }), or use Estimator.train.",
      );
    }
    this.inputs = session.datasets;
    this.timer.reset();
    this.lastSavedStep = null;
    const writer =
      this.options.writer ??
      this.sharedWriter ??
      new CheckpointWriter(this.options.storage ?? this.estimator.modelDir, { background: this.background, logger: this.logger });
    // Started (the worker ready) before the first save; a writer shared with the saver is already open.
    await writer.open();
    this.writer = writer;
    const storage = writer.storage;
    this.store = new BlobCheckpointStore(storage, {
      indexName: this.indexName,
      prefix: this.prefix,
      keepMax: this.keepMax,
      logger: this.logger,
    });
    // The input checkpoint of the model's step first; a damaged one is reported and skipped.
    const restored = await this.store.readLatestValid(session.globalStep);
    if (restored === null) {
      // Before the first step, so written right away (there is nothing to overlap with).
      this.queueSave(session.globalStep);
      await this.writes;
      return;
    }
    if (restored.step !== session.globalStep) {
      this.logger.warn(
        `No usable input checkpoint for global step ${session.globalStep} in ${storage.location}; restoring the ` +
          `newest usable one, step ${restored.step}: the data position and the model weights come from different steps.`,
      );
    }
    this.restore(restored.bytes);
  }

  override async afterRun(ctx: SessionRunContext): Promise<void> {
    // A lost lock or a dead worker stops training at the next step.
    this.writer?.throwIfFailed();
    const step = ctx.session.globalStep;
    if (this.timer.shouldTriggerForStep(step)) {
      this.timer.updateLastTriggeredStep(step);
      this.queueSave(step);
      if (!this.background) await this.writes;
    }
  }

  private get background(): boolean {
    return this.options.background ?? this.estimator.config.backgroundCheckpointWrites ?? true;
  }

  /** Saves the final position (unless just saved) and waits until every input checkpoint is on disk. */
  override async end(session: TrainingSession): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    try {
      writer?.throwIfFailed();
      if (this.lastSavedStep !== session.globalStep) this.queueSave(session.globalStep, writer);
      await this.writes;
    } finally {
      await writer?.close();
    }
    const failure = this.lastWriteError;
    this.lastWriteError = null;
    if (failure !== null) {
      throw new CheckpointError(
        `CheckpointInputPipelineHook: the final input checkpoint (step ${session.globalStep}) could not be written: ` +
          `${failure instanceof Error ? failure.message : String(failure)}`,
        { cause: failure },
      );
    }
  }

  /** Captures the position now (it must match this step) and hands it to the writer, in submission order. */
  private queueSave(step: number, writer = this.writer): void {
    const bytes = encodeInputCheckpoint(this.inputs.map((input) => input.saveState()));
    this.requireStore();
    if (writer === undefined) {
      throw new ResumableError('CheckpointInputPipelineHook used before afterCreateSession; pass it to a HookCallback.');
    }
    this.lastSavedStep = step;
    const { numWorkerReplicas, isChief } = this.estimator.config;
    const saved = writer
      .submit({
        kind: 'blob',
        indexName: this.indexName,
        prefix: this.prefix,
        keepMax: this.keepMax,
        step,
        bytes,
        // A non-chief worker resumes from its own newest input checkpoint: no model step to protect.
        protectNewestModelStep: !((numWorkerReplicas ?? 1) > 1 && isChief === false),
      })
      .then(
        () => {
          this.lastWriteError = null;
        },
        (e: unknown) => {
          // Like the model saver: report, keep training, let the next trigger (or end) try again.
          this.lastWriteError = e;
          this.logger.warn(
            `CheckpointInputPipelineHook: saving input checkpoint ${step} failed: ` +
              `${e instanceof Error ? e.message : String(e)} Training continues; the next save retries.`,
          );
        },
      );
    this.writes = Promise.all([this.writes, saved]).then(() => undefined);
  }

  private restore(bytes: Uint8Array): void {
    const states = decodeInputCheckpoint(bytes, this.inputs.length);
    // Decode all before applying any, so a bad state leaves every pipeline untouched.
    states.forEach((state, i) => this.inputs[i].restoreState(state));
  }

  private requireStore(): BlobCheckpointStore {
    if (this.store === undefined) {
      throw new ResumableError('CheckpointInputPipelineHook used before afterCreateSession; pass it to a HookCallback.');
    }
    return this.store;
  }
}
