import { CheckpointError, CheckpointLockError, CorruptCheckpointError, InvalidArgumentError } from '../errors';
import type { MessagePort } from 'worker_threads';
import type { WorkerStorageDescription } from './storage';
import type { WriteJob } from './write_job';

/** Training thread → worker. */
export type ToWriterWorker =
  | { type: 'job'; id: number; job: WriteJob }
  | { type: 'fence'; token: string }
  | { type: 'close' };

/** An error as it crosses threads: class name and message (the class is rebuilt on arrival). */
export interface ClonedError {
  name: string;
  message: string;
}

/** Worker → training thread. */
export type FromWriterWorker =
  | { type: 'ready' }
  /** `buffers`: the job's snapshot buffers, shared or moved back for reuse (see `SnapshotBufferPool`). */
  | { type: 'written'; id: number; buffers: ArrayBufferLike[] }
  | { type: 'replaced'; id: number; by: number; buffers: ArrayBufferLike[] }
  | { type: 'failed'; id: number; error: ClonedError }
  /** The lock was lost while a retention ran (after its save was reported written): the writer stops. */
  | { type: 'lockLost'; error: ClonedError }
  /** A line the write code reported (`CheckpointLogger.warn`), for the training thread's logger, in order. */
  | { type: 'log'; message: string }
  | { type: 'closed' };

/** `error` as plain data for `postMessage`. */
export function cloneError(error: unknown): ClonedError {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

const REBUILT: Record<string, new (message: string) => Error> = {
  CheckpointLockError,
  CorruptCheckpointError,
  InvalidArgumentError,
};

/** The typed error a worker reported: the same class for the errors callers catch by class, else `CheckpointError`. */
export function rebuildError(cloned: ClonedError): Error {
  const Kind = REBUILT[cloned.name] ?? CheckpointError;
  return new Kind(cloned.message);
}

/**
 * Environment variable that makes the writer's worker fail on purpose, for tests of the failure path:
 * `exit-before-index:N` ends the worker thread, `throw-before-index:N` makes it throw an uncaught error,
 * just before its N-th write of the model index (`checkpoint`), i.e. after that save's files are written
 * and before it is marked latest. Read once, when the worker starts.
 */
export const WRITER_TEST_FAULT_ENV = 'TFJS_RESUMABLE_WRITER_TEST_FAULT';

/** What the training thread hands the worker at start (`workerData`). */
export interface WriterWorkerData {
  /** The storage to open. */
  storage: WorkerStorageDescription;
  /** The channel for every message both ways (the training thread reads it synchronously). */
  port: MessagePort;
  /** The value of {@link WRITER_TEST_FAULT_ENV}, if set. */
  testFault: string | undefined;
}
