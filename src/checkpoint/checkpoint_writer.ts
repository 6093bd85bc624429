import * as path from 'path';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'worker_threads';
import { CheckpointError, CheckpointLockError, CheckpointWriterError } from '../errors';
import { FencedStorage } from './fenced_storage';
import type { LocalCheckpointStorageOptions } from './local_storage';
import { type CheckpointLogger, consoleLogger } from './logger';
import { closeStorage, openStorage } from './open_storage';
import type { CheckpointStorage, WorkerStorageDescription } from './storage';
import { SnapshotBufferPool } from './snapshot_buffer_pool';
import type { PendingSnapshot } from './model_snapshot';
import { type ModelWriteJob, type WriteJob, runWriteJob, snapshotBuffersOf, stepOf, transferablesOf } from './write_job';
import { type WriteStatus, WriteScheduler, handleRetentionFailure } from './write_scheduler';
import { type FromWriterWorker, type ToWriterWorker, WRITER_TEST_FAULT_ENV, type WriterWorkerData, rebuildError } from './writer_messages';

/** Options of {@link CheckpointWriter}. */
export interface CheckpointWriterOptions {
  /**
   * Write in a worker thread (default `true`): the training thread only hands over the snapshot, and
   * the files become durable while tfjs computes the next steps. `false` writes on the training thread
   * and callers wait for each save (TF's synchronous saves).
   */
  background?: boolean;
  /** Options for the local storage when the modelDir is a path. */
  storageOptions?: LocalCheckpointStorageOptions;
  /**
   * Where the writes report what they recover from (retention, orphaned or dropped checkpoints), also
   * from the worker thread: its lines are forwarded here in order. Default `console.warn`.
   */
  logger?: CheckpointLogger;
}

/** How a submitted save ended: durably written, or replaced while waiting by a newer save of its series. */
export type SaveResult = 'written' | 'replaced';

interface Pending {
  step: number;
  resolve: (result: SaveResult) => void;
  reject: (error: unknown) => void;
}

/** How long the worker may take to start (load the library, open the storage) before the writer gives up. */
const WORKER_START_TIMEOUT_MS = 60_000;

/**
 * The one checkpoint writer of a run, shared by the `CheckpointSaverHook` and the
 * `CheckpointInputPipelineHook` (resumableFit and the Estimator create one per run and hand it to both;
 * a hook constructed alone creates its own). One save is in flight and at most one waits per series (a
 * newer snapshot replaces the waiting one), in the order they were submitted.
 *
 * With `background` (the default) the writes run in a `worker_threads` worker that opens the same
 * storage from its description (`describeForWorker`); a storage that cannot cross threads (a custom
 * backend, an injected file system) is written on the training thread. The worker is started and
 * awaited in `open()`, so the first save is already handled by a running worker.
 *
 * Fencing: after `fence(token)` every write first checks that the modelDir's lock still carries the
 * token. A writer that lost its lock writes and acknowledges nothing more; {@link throwIfFailed} then
 * raises `CheckpointLockError`. A worker that dies raises `CheckpointWriterError` the same way.
 */
export class CheckpointWriter {
  private opened: CheckpointStorage | undefined;
  private users = 0;
  private worker: Worker | undefined;
  /** The worker's outcomes and log lines arrive here (read synchronously by {@link poll} at every step). */
  private port: MessagePort | undefined;
  private local: WriteScheduler | undefined;
  private localFenced: FencedStorage | undefined;
  private readonly pending = new Map<number, Pending>();
  private drainWaiters: Array<() => void> = [];
  private nextId = 1;
  private fatal: Error | undefined;
  private closing: Promise<void> | undefined;
  /** Set while {@link shutDown} waits for the worker's 'closed'. */
  private onWorkerClosed: (() => void) | undefined;
  /**
   * Buffers of written snapshots, for the next snapshot (`snapshotModel(model, writer.snapshotBuffers)`):
   * reusing them spares the training thread the page faults of a fresh buffer at every save.
   */
  readonly snapshotBuffers = new SnapshotBufferPool();

  /**
   * Opens nothing yet (see {@link open}).
   * @param modelDir a path, `file://` or `s3://bucket/prefix` URL (see `openStorage`), or an opened storage.
   */
  constructor(
    private readonly modelDir: string | CheckpointStorage,
    private readonly options: CheckpointWriterOptions = {},
  ) {}

  private get logger(): CheckpointLogger {
    return this.options.logger ?? consoleLogger;
  }

  /** Whether saves run in the background (the caller need not wait for them). */
  get background(): boolean {
    return this.options.background !== false;
  }

  /** Whether the writes run in a worker thread (after `open`). */
  get inWorker(): boolean {
    return this.worker !== undefined;
  }

  /** The storage, once `open` opened it (reads and the lock go through it, on the training thread). */
  get storage(): CheckpointStorage {
    if (this.opened === undefined) {
      throw new CheckpointError('CheckpointWriter used before open(): the hooks open it in begin().');
    }
    return this.opened;
  }

  /**
   * Opens the storage and starts the worker, resolving once it is ready. Every user (hook) calls it once
   * and {@link close} once; the first opens, the last closes.
   */
  async open(): Promise<void> {
    this.users += 1;
    if (this.users > 1) {
      await this.closing;
      if (this.opened !== undefined) return;
    }
    this.closing = undefined;
    this.fatal = undefined;
    const storage = openStorage(this.modelDir, { local: this.options.storageOptions });
    this.opened = storage;
    const description = this.background ? storage.describeForWorker?.() ?? null : null;
    if (description !== null) {
      const { worker, port } = await startWorker(description);
      this.worker = worker;
      this.port = port;
      port.on('message', (message: FromWriterWorker) => this.onWorkerMessage(message));
      worker.on('error', (error) => this.onWorkerGone(`threw ${error.message}`));
      worker.on('exit', (code) => this.onWorkerGone(`exited with code ${code}`));
      // An idle worker must not keep the process alive; while saves are pending it does (see submit).
      worker.unref();
      port.unref();
    } else {
      this.localFenced = new FencedStorage(storage);
      const fenced = this.localFenced;
      this.local = new WriteScheduler(
        (job) => runWriteJob(fenced, job, this.logger),
        (outcome) => {
          if (outcome.status !== 'failed') this.snapshotBuffers.give(snapshotBuffersOf(outcome.job));
          this.onOutcome(outcome);
        },
        (error, job) => {
          const lost = handleRetentionFailure(error, job, this.logger);
          if (lost !== undefined) this.fatal ??= lost;
        },
      );
    }
  }

  /** From now on every write first checks that the modelDir's lock still carries `token` (its holder's). */
  fence(token: string): void {
    if (this.worker !== undefined) this.post({ type: 'fence', token });
    else this.localFenced?.setToken(token);
  }

  /**
   * Hands `job` to the writer; its buffers move to the worker (do not use them afterwards). Resolves
   * `'written'` once it is durable and indexed, `'replaced'` when a newer save of its series replaced it
   * while it waited; rejects with the write's error.
   * @throws CheckpointLockError / CheckpointWriterError when the writer can write no more (see {@link throwIfFailed}).
   */
  submit(job: WriteJob): Promise<SaveResult> {
    this.throwIfFailed();
    const id = this.nextId++;
    const result = new Promise<SaveResult>((resolve, reject) => this.pending.set(id, { step: stepOf(job), resolve, reject }));
    if (this.worker !== undefined) {
      // Waiting for a save (end(), a synchronous save) must keep the process alive until it is durable.
      if (this.pending.size === 1) {
        this.worker.ref();
        this.port?.ref();
      }
      this.post({ type: 'job', id, job }, transferablesOf(job));
    }
    else if (this.local !== undefined) this.local.submit(id, job);
    else throw new CheckpointError('CheckpointWriter used before open(): the hooks open it in begin().');
    return result;
  }

  /**
   * Hands a model snapshot that is laid out but not copied yet to the writer, then copies it: with a worker
   * and shared buffers the job is posted first and the worker writes each chunk as soon as it is copied,
   * so the copy overlaps the writes; otherwise it is copied, then submitted. Either way the snapshot is
   * complete when this returns, and nothing may be awaited between {@link prepareSnapshot} and this call.
   * Resolves as {@link submit}.
   * @throws what `pending.copy()` throws (the save is then failed, not written), and as {@link submit}.
   */
  submitSnapshot(pending: PendingSnapshot, job: Omit<ModelWriteJob, 'kind' | 'snapshot' | 'fill'>): Promise<SaveResult> {
    if (this.worker === undefined || pending.fill === undefined) {
      pending.copy();
      return this.submit({ ...job, kind: 'model', snapshot: pending.snapshot });
    }
    const saved = this.submit({ ...job, kind: 'model', snapshot: pending.snapshot, fill: pending.fill });
    try {
      pending.copy();
    } catch (e) {
      // The worker fails the save (the fill is aborted); the caller gets the copy's error instead.
      saved.catch(() => undefined);
      throw e;
    }
    return saved;
  }

  /** Whether a submitted save has not settled yet. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Resolves once every submitted save has settled (written, replaced or failed). */
  drain(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Throws what stopped the writer: `CheckpointLockError` when its lock was taken over (nothing more is
   * written), `CheckpointWriterError` when its worker died. The hooks call it at every step.
   */
  throwIfFailed(): void {
    this.poll();
    if (this.fatal !== undefined) throw this.fatal;
  }

  /**
   * Takes in, synchronously, every message the worker has sent (outcomes, log lines): tfjs compute can
   * keep the training thread's event loop from delivering them for many steps, and a lost lock must stop
   * training at the next step, a durable save be acknowledged (`afterSave`) as soon as it is durable.
   */
  poll(): void {
    for (;;) {
      const port = this.port;
      if (port === undefined) return;
      const received = receiveMessageOnPort(port);
      if (received === undefined) return;
      this.onWorkerMessage(received.message as FromWriterWorker);
    }
  }

  /**
   * Ends one user's use; the last one waits for every submitted save, stops the worker and closes a
   * storage opened from a string.
   */
  async close(): Promise<void> {
    if (this.users === 0) return;
    this.users -= 1;
    if (this.users > 0) return;
    this.closing = this.shutDown();
    await this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.drain();
    // Saves are acknowledged before their retention runs: let the last retention finish (a worker stopped
    // while deleting would leave a half-deleted checkpoint for the next run to clean up).
    if (this.worker !== undefined) await this.workerClosed();
    await this.local?.drained();
    const worker = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    this.local = undefined;
    this.localFenced = undefined;
    if (worker !== undefined) {
      // `this.worker` is cleared first, so the exit this causes is not taken for a crash.
      await worker.terminate();
    }
    if (this.opened !== undefined && this.opened !== this.modelDir) closeStorage(this.opened);
    this.opened = undefined;
  }

  /** Asks the worker to finish its queue and close its storage; resolves when it did, or when it is gone. */
  private workerClosed(): Promise<void> {
    return new Promise<void>((resolve) => {
      const worker = this.worker as Worker;
      const done = (): void => {
        this.onWorkerClosed = undefined;
        worker.off('exit', done);
        resolve();
      };
      // 'closed' arrives through onWorkerMessage, whether the event loop or a poll() delivers it.
      this.onWorkerClosed = done;
      worker.on('exit', done);
      // Keep the process alive until the worker answers.
      this.port?.ref();
      this.post({ type: 'close' });
    });
  }

  /**
   * Stops the worker as if it had crashed (for tests of the failure path): pending saves fail and the
   * next step raises `CheckpointWriterError`.
   * @internal
   */
  async simulateWorkerCrash(): Promise<void> {
    await this.worker?.terminate();
  }

  private post(message: ToWriterWorker, transfer: ArrayBuffer[] = []): void {
    (this.port as MessagePort).postMessage(message, transfer);
  }

  private onWorkerMessage(message: FromWriterWorker): void {
    if (message.type === 'written' || message.type === 'replaced') this.snapshotBuffers.give(message.buffers);
    if (message.type === 'written') this.onOutcome({ id: message.id, status: 'written' });
    else if (message.type === 'replaced') this.onOutcome({ id: message.id, status: 'replaced', by: message.by });
    else if (message.type === 'failed') this.onOutcome({ id: message.id, status: 'failed', error: rebuildError(message.error) });
    else if (message.type === 'log') this.logger.warn(message.message);
    else if (message.type === 'closed') this.onWorkerClosed?.();
    // A lock lost while retention deleted (after the save's acknowledgement): final, like a failed write's.
    else if (message.type === 'lockLost') this.fatal ??= rebuildError(message.error);
  }

  private onOutcome(outcome: WriteStatus): void {
    const pending = this.pending.get(outcome.id);
    if (pending === undefined) return;
    this.pending.delete(outcome.id);
    if (outcome.status === 'failed') {
      // A lost lock is final: nothing this writer does later may be acknowledged.
      if (outcome.error instanceof CheckpointLockError) this.fatal ??= outcome.error;
      pending.reject(outcome.error);
    } else {
      pending.resolve(outcome.status);
    }
    this.settleDrain();
  }

  private onWorkerGone(how: string): void {
    if (this.worker === undefined) return;
    // Outcomes it sent before it went are still valid: a save it reported durable is durable.
    this.poll();
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    const steps = [...this.pending.values()].map((p) => p.step);
    const error = new CheckpointWriterError(
      `The checkpoint writer's worker thread for ${this.storage.location} ${how}` +
        (steps.length > 0 ? ` while saving step(s) ${steps.join(', ')}, which were not marked latest` : '') +
        '. Checkpoints written before are intact; restart the job to resume from the latest one.',
    );
    this.fatal ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.settleDrain();
  }

  private settleDrain(): void {
    if (this.pending.size > 0) return;
    this.worker?.unref();
    this.port?.unref();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Starts the worker and waits for its "ready" on a channel of its own (see `CheckpointWriter.poll`). From
 * dist/ the compiled `checkpoint_writer_worker.js` next to this file runs as is; from TypeScript sources
 * (ts-jest, tsx) the `.ts` file is loaded through tsx's require hook, which a worker does not inherit
 * from its parent.
 */
async function startWorker(
  description: WorkerStorageDescription,
): Promise<{ worker: Worker; port: MessagePort }> {
  const extension = path.extname(__filename);
  const script = path.join(__dirname, `checkpoint_writer_worker${extension}`);
  const { port1: port, port2: workerPort } = new MessageChannel();
  const workerData: WriterWorkerData = { storage: description, port: workerPort, testFault: process.env[WRITER_TEST_FAULT_ENV] };
  // The training thread's environment as it is now (credentials, endpoints), also where process.env was
  // replaced (test runners do): a worker's default is the process's original environment.
  const options = { workerData, transferList: [workerPort], env: { ...process.env } };
  const worker =
    extension === '.ts'
      ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(script)});`, {
          eval: true,
          ...options,
        })
      : new Worker(script, options);
  await new Promise<void>((resolve, reject) => {
    // Only our own listeners are removed: removing every 'message' listener would stop the port.
    const detach = (): void => {
      clearTimeout(timer);
      port.off('message', onMessage);
      worker.off('error', fail);
      worker.off('exit', onExit);
    };
    const fail = (error: Error): void => {
      detach();
      port.close();
      void worker.terminate();
      reject(
        new CheckpointWriterError(
          `The checkpoint writer's worker thread could not start: ${error.message}. Pass background: false to write on ` +
            'the training thread instead.',
          { cause: error },
        ),
      );
    };
    const onMessage = (message: FromWriterWorker): void => {
      if (message.type !== 'ready') return fail(new Error(`its first message was ${JSON.stringify(message)}`));
      detach();
      resolve();
    };
    const onExit = (code: number): void => fail(new Error(`it exited with code ${code}`));
    const timer = setTimeout(() => fail(new Error(`it did not report ready within ${WORKER_START_TIMEOUT_MS} ms`)), WORKER_START_TIMEOUT_MS);
    port.on('message', onMessage);
    worker.on('error', fail);
    worker.on('exit', onExit);
  });
  return { worker, port };
}
