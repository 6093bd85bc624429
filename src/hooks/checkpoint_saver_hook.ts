import { CheckpointError, CheckpointLockError, InvalidArgumentError } from '../errors';
import { DEFAULT_KEEP_CHECKPOINT_MAX, modelSeries } from '../checkpoint/checkpoint_manager';
import { CheckpointWriter, type SaveResult } from '../checkpoint/checkpoint_writer';
import { checkKeepMax } from '../checkpoint/checkpoint_index';
import type { LocalCheckpointStorageOptions } from '../checkpoint/local_storage';
import { closeStorage, openStorage, parseModelDir } from '../checkpoint/open_storage';
import { acquireCheckpointLock, checkLockWaitMs, type HeldLock } from '../checkpoint/lock_wait';
import { CheckpointLogger, consoleLogger } from '../checkpoint/logger';
import { prepareSnapshot } from '../checkpoint/model_snapshot';
import { writerFingerprint } from '../checkpoint/model_checkpoint';
import type { CheckpointStorage } from '../checkpoint/storage';
import type { CheckpointSaverListener } from './checkpoint_saver_listener';
import { SessionRunContext, SessionRunHook, SessionRunValues } from './session_run_hook';
import { SecondOrStepTimer } from './timer';
import type { TrainingSession } from './training_session';

/** Options of {@link CheckpointSaverHook}: exactly one of `saveSteps` / `saveSecs`. */
export interface CheckpointSaverHookOptions {
  /** Save every this many steps. */
  saveSteps?: number;
  /** Save every this many seconds. */
  saveSecs?: number;
  /** Newest checkpoints kept (0 keeps all). Default 5. */
  keepCheckpointMax?: number;
  /** Called around every save. */
  listeners?: CheckpointSaverListener[];
  /**
   * Write checkpoints in the background (default `true`). `false` makes `afterRun` wait until the
   * checkpoint is durable, as TF's saver does: every triggered save is written, at the cost of training
   * time — for short runs and tests that need each checkpoint.
   */
  background?: boolean;
  /** Named blobs to store with each checkpoint (e.g. an input pipeline state), collected at snapshot time. */
  collectExtras?: (session: TrainingSession) => Record<string, Uint8Array>;
  /** Where failed background saves are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
  /** Options for the local storage when `modelDir` is a path. */
  storageOptions?: LocalCheckpointStorageOptions;
  /**
   * How long `begin` waits for another live writer to release the modelDir's lock (or for its lock to go
   * stale), in ms, printing a progress line through the logger; then `CheckpointLockHeldError`.
   * Default 0: fail at once (see `DEFAULT_LOCK_WAIT_MS`).
   */
  lockWaitMs?: number;
  /**
   * The modelDir's writer lock, already taken by the caller (`acquireCheckpointLock`) for longer than
   * one fit: the hook then neither takes nor releases it. `resumableFit` and `Estimator.train` take it
   * before they restore, so a job that waited for the lock resumes from its predecessor's final checkpoint.
   */
  heldLock?: HeldLock;
  /**
   * The run's checkpoint writer, shared with the `CheckpointInputPipelineHook` (resumableFit and the
   * Estimator pass one). Default: the hook creates its own on `modelDir`.
   */
  writer?: CheckpointWriter;
}

function checkPositive(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`${name} must be a positive number, got ${value}.`);
  }
}

/**
 * Saves model checkpoints (weights, optimizer state, global step, epoch) every N steps or seconds, at
 * the first step and at the end: TF's `CheckpointSaverHook`.
 *
 * It holds the modelDir's writer lock from `begin` to `end`, so a second saver on the same modelDir
 * fails with `CheckpointLockHeldError` (at once, or after waiting `lockWaitMs` for the holder).
 * Saving does not stall training: `afterRun` only copies the weights
 * and optimizer state (a consistent snapshot of that step); the files are written in the background,
 * one checkpoint at a time: a save triggered while one is written waits, and a newer one replaces it
 * while it waits (memory stays bounded, training never waits for the disk). A background write that fails
 * is reported through the logger and training continues: the next trigger saves again. `end` waits for
 * all writes, saves the last step if it was not just saved, and throws `CheckpointError` if that final
 * save fails, so a run never ends believing its last state is on disk when it is not.
 * A run restored from the newest checkpoint that trains no step leaves that checkpoint untouched.
 */
export class CheckpointSaverHook extends SessionRunHook {
  private readonly timer: SecondOrStepTimer;
  private readonly keepCheckpointMax: number;
  private readonly listeners: CheckpointSaverListener[];
  private readonly logger: CheckpointLogger;
  private storage: CheckpointStorage | undefined;
  private writer: CheckpointWriter | undefined;
  private releaseLock: HeldLock | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private lastSavedStep: number | null = null;
  private lastWriteError: unknown = null;
  private stopAfterSave = false;
  private listenerError: unknown = null;

  /**
   * @param modelDir checkpoint directory (a path, `file://` or `s3://bucket/prefix` URL, see `openStorage`) or an
   *   opened storage.
   * @param options the save cadence (exactly one of `saveSteps` / `saveSecs`), retention and listeners.
   * @throws InvalidArgumentError when both or neither cadence is given, or a value is not positive.
   */
  constructor(
    private readonly modelDir: string | CheckpointStorage,
    private readonly options: CheckpointSaverHookOptions,
  ) {
    super();
    // Refuse a bad modelDir (unknown scheme, malformed s3:// URL) now, not at the first save.
    if (typeof modelDir === 'string') parseModelDir(modelDir);
    if ((options.saveSteps === undefined) === (options.saveSecs === undefined)) {
      throw new InvalidArgumentError(
        'CheckpointSaverHook needs exactly one of saveSteps and saveSecs ' +
          `(got ${options.saveSteps === undefined ? 'neither' : 'both'}).`,
      );
    }
    checkPositive(options.saveSteps, 'saveSteps');
    checkPositive(options.saveSecs, 'saveSecs');
    checkLockWaitMs(options.lockWaitMs, 'lockWaitMs');
    this.timer = new SecondOrStepTimer(
      options.saveSteps !== undefined ? { everySteps: options.saveSteps } : { everySecs: options.saveSecs as number },
    );
    this.keepCheckpointMax = checkKeepMax(options.keepCheckpointMax ?? DEFAULT_KEEP_CHECKPOINT_MAX, 'keepCheckpointMax');
    this.listeners = options.listeners ?? [];
    this.logger = options.logger ?? consoleLogger;
  }

  /** The storage, once `begin` opened it. */
  get checkpointStorage(): CheckpointStorage | undefined {
    return this.storage;
  }

  override async begin(): Promise<void> {
    // The lock first, on a storage of its own: starting the writer's worker takes a while, and a job waiting
    // for the lock (lockWaitMs) must be waiting, and reporting it, from the start.
    if (this.options.heldLock === undefined) {
      const lockStorage = openStorage(this.modelDir, { local: this.options.storageOptions });
      try {
        const held = await acquireCheckpointLock(lockStorage, { lockWaitMs: this.options.lockWaitMs, logger: this.logger });
        this.releaseLock = Object.assign(
          async () => {
            try {
              await held();
            } finally {
              if (lockStorage !== this.modelDir) closeStorage(lockStorage);
            }
          },
          { token: held.token },
        );
      } catch (e) {
        if (lockStorage !== this.modelDir) closeStorage(lockStorage);
        throw e;
      }
    }
    const writer =
      this.options.writer ??
      new CheckpointWriter(this.modelDir, {
        background: this.options.background,
        storageOptions: this.options.storageOptions,
        logger: this.logger,
      });
    try {
      // The worker is started (and ready) before the first save is taken.
      await writer.open();
    } catch (e) {
      const release = this.releaseLock;
      this.releaseLock = undefined;
      await release?.();
      throw e;
    }
    this.writer = writer;
    this.storage = writer.storage;
    // From now on the writer writes only while this lock is ours (fencing). The lock may have been taken
    // through another storage object (heldLock: the caller's, before its restore), so its token comes from
    // the lock itself; the writer checks it against the modelDir's lock file/object before every write.
    const token = (this.options.heldLock ?? this.releaseLock)?.token;
    if (token !== undefined) writer.fence(token);
    for (const l of this.listeners) await l.begin();
  }

  override async afterCreateSession(session: TrainingSession): Promise<void> {
    // A run restored from its newest checkpoint that trains no step (its work was done) must not re-save that
    // step at `end`: re-saving unlists a step while its files are rewritten, so a kill -9 in that window would
    // lose the newest acknowledged checkpoint.
    const latest = await modelSeries(this.requireStorage(), this.logger).latestStep();
    if (latest === session.globalStep) this.lastSavedStep = latest;
  }

  override async afterRun(ctx: SessionRunContext, _values: SessionRunValues): Promise<void> {
    // A lost lock or a dead worker stops training at the next step: nothing more would be saved.
    this.writer?.throwIfFailed();
    const step = ctx.session.globalStep;
    if (this.timer.shouldTriggerForStep(step)) {
      this.timer.updateLastTriggeredStep(step);
      await this.startSave(ctx.session, step);
      if (this.options.background === false) await this.inFlight;
    }
    if (this.stopAfterSave) ctx.requestStop();
  }

  override async end(session: TrainingSession): Promise<void> {
    try {
      await this.inFlight;
      this.writer?.throwIfFailed();
      const step = session.globalStep;
      if (this.lastSavedStep !== step || this.lastWriteError !== null) {
        await this.startSave(session, step);
        await this.inFlight;
        if (this.lastWriteError !== null) {
          const cause = this.lastWriteError;
          throw new CheckpointError(
            `The final checkpoint save at step ${step} to ${this.requireStorage().location} failed: ` +
              `${cause instanceof Error ? cause.message : String(cause)}`,
            { cause },
          );
        }
      }
      if (this.listenerError !== null) {
        const cause = this.listenerError;
        throw new CheckpointError(
          `A CheckpointSaverListener's afterSave failed: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        );
      }
      for (const l of this.listeners) await l.end(session, step);
    } finally {
      const release = this.releaseLock;
      this.releaseLock = undefined;
      const writer = this.writer;
      this.writer = undefined;
      try {
        // Waits for every save in flight; the last user also closes a storage opened from a string.
        await writer?.close();
      } finally {
        if (release) await release();
      }
    }
  }

  /** Waits for every queued checkpoint write (for callers that need the files now). */
  async flush(): Promise<void> {
    await this.inFlight;
  }

  private requireStorage(): CheckpointStorage {
    if (!this.storage) {
      throw new CheckpointError('CheckpointSaverHook used before begin(): run it through HookCallback or call begin() first.');
    }
    return this.storage;
  }

  /**
   * Snapshots now (consistent with this step) and hands it to the writer. At most one write runs and at
   * most one snapshot waits behind it: a newer snapshot replaces a waiting one (that save is skipped — it
   * would be out of date before it started). So a disk slower than the save cadence makes checkpoints
   * sparser, never memory grow or training wait.
   */
  private async startSave(session: TrainingSession, step: number): Promise<void> {
    const storage = this.requireStorage();
    const writer = this.writer as CheckpointWriter;
    for (const l of this.listeners) await l.beforeSave(session, step);
    const pending = await prepareSnapshot(session.model, writer.snapshotBuffers);
    // From here to the copy in submitSnapshot nothing is awaited: the snapshot and the extras are this step's.
    const extras = this.options.collectExtras?.(session);
    const meta = { globalStep: step, epoch: session.epoch, extras };
    // The fingerprint is the training thread's backend, not the worker's.
    const saved = writer.submitSnapshot(pending, {
      meta: { ...meta, fingerprint: writerFingerprint(meta) },
      keepCheckpointMax: this.keepCheckpointMax,
    });
    const settled = saved.then(
      (result) => this.written(session, step, result),
      (e: unknown) => this.failed(storage, step, e),
    );
    this.inFlight = Promise.all([this.inFlight, settled]).then(() => undefined);
  }

  private failed(storage: CheckpointStorage, step: number, e: unknown): void {
    this.lastWriteError = e;
    // A lost lock is not retried: the writer raises it at the next step (see CheckpointWriter.throwIfFailed).
    if (e instanceof CheckpointLockError) return;
    this.logger.warn(
      `CheckpointSaverHook: saving step ${step} to ${storage.location} failed: ` +
        `${e instanceof Error ? e.message : String(e)} Training continues; the next save trigger retries.`,
    );
  }

  private async written(session: TrainingSession, step: number, result: SaveResult): Promise<void> {
    if (result === 'replaced') return;
    this.lastSavedStep = step;
    this.lastWriteError = null;
    try {
      for (const l of this.listeners) {
        if ((await l.afterSave(session, step)) === true) this.stopAfterSave = true;
      }
    } catch (e) {
      // Keep the writer loop alive (a throw would silently skip every later save); end() rethrows.
      this.listenerError ??= e;
    }
  }
}
