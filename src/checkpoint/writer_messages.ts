import { CheckpointError, CheckpointLockError, CorruptCheckpointError, InvalidArgumentError } from '../errors';
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
  | { type: 'written'; id: number }
  | { type: 'replaced'; id: number; by: number }
  | { type: 'failed'; id: number; error: ClonedError }
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
