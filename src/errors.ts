/**
 * Base class of every error this package throws on purpose. Subclasses say what was wrong and what to
 * do about it, so callers can `catch (e) { if (e instanceof CheckpointError) ... }` without parsing text.
 */
export class ResumableError extends Error {
  /**
   * Builds the error; `name` is set to the concrete subclass (`CheckpointLockError`, ...) for logs.
   * @param message what was wrong and what to do about it.
   * @param options `cause`: the underlying error, kept as the non-enumerable `cause` property.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = new.target.name;
    if (options?.cause !== undefined) {
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: true });
    }
  }
}

/** An argument is out of range or of the wrong kind (negative step count, both timers set, ...). */
export class InvalidArgumentError extends ResumableError {}

/** Anything wrong with a checkpoint directory or a checkpoint in it. */
export class CheckpointError extends ResumableError {}

/** No checkpoint where one was required. */
export class CheckpointNotFoundError extends CheckpointError {}

/** A checkpoint file failed its checksum, is truncated, or is not in the expected format. */
export class CorruptCheckpointError extends CheckpointError {}

/** Another writer holds the modelDir. */
export class CheckpointLockError extends CheckpointError {}

/** Who holds a writer lock, as its lock record says. */
export interface LockHolder {
  /** Process id of the holder. */
  pid: number;
  /** Host name of the machine the holder runs on. */
  hostname: string;
  /** When the holder took the lock (ms since the Unix epoch). */
  sinceMs: number;
}

/**
 * The modelDir's writer lock is held by another writer that is alive (its heartbeat is fresh): thrown at
 * once by `CheckpointStorage.lock()`, and when a `lockWaitMs` wait for the holder ran out.
 */
export class CheckpointLockHeldError extends CheckpointLockError {
  /**
   * Builds the error with the holder it names.
   * @param message what was wrong and what to do about it.
   * @param holder who holds the lock, or `undefined` when its lock carries no readable owner record.
   * @param options `cause`: the underlying error.
   */
  constructor(
    message: string,
    readonly holder: LockHolder | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The checkpoint writer cannot write any more: its worker thread died or failed to start. Raised at the
 * next training step after it happened; the checkpoints already acknowledged stay valid.
 */
export class CheckpointWriterError extends CheckpointError {}

/** A path read from an index or passed by the user would leave the checkpoint directory. */
export class PathEscapeError extends CheckpointError {}
