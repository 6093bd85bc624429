import type { LocalCheckpointStorageOptions } from './local_storage';
import type { S3CheckpointStorageOptions } from './s3_storage';

/** What {@link CheckpointStorage.lock} returns: the release function, with the lock's fencing token where the backend fences. */
export type HeldLock = (() => Promise<void>) & {
  /** The lock's generation (fencing token) on backends with fencing; a writer checks it before every commit. */
  readonly token?: string;
};

/**
 * The one interface behind everything that touches a modelDir. The local file system is the default
 * implementation; an object store (S3) is another. Paths are always relative to the storage root and
 * use `/` as separator; implementations reject any path that would leave the root.
 *
 * Atomicity contract: `writeAtomic` makes a reader see either the previous content or the complete new
 * content of that one object, never a mix. Multi-object checkpoints are made atomic one level up: the
 * objects are written first and the index object naming them last; readers trust only what an index names.
 */
export interface CheckpointStorage {
  /** Where this storage lives, for messages: an absolute directory or an `s3://bucket/prefix` URL. */
  readonly location: string;
  /** Whole content of an object. Throws `CheckpointNotFoundError` when it does not exist. */
  read(relPath: string): Promise<Uint8Array>;
  /**
   * Optional: {@link read} with the object's CRC-32, computed while its bytes arrive (a 400 MB restore is not
   * read first and checksummed after). Callers fall back to `read` + `crc32` when it is absent.
   */
  readChecksummed?(relPath: string): Promise<ChecksummedBytes>;
  /** Writes an object atomically (see the interface comment), creating parent "directories" as needed. */
  writeAtomic(relPath: string, data: Uint8Array): Promise<void>;
  /**
   * Optional, for backends where durability can be batched: writes several objects, each atomically as
   * `writeAtomic` does, makes them all durable together (one directory fsync instead of one per file),
   * and returns each object's CRC-32, computed while its bytes are written. An object given as several
   * parts is written as their concatenation without building it. `seal`, when given, makes one more
   * object from the others' CRC-32s (a manifest such as `state.json`) once they are written; it is made
   * durable with them and renamed last (its CRC-32 is not returned). Objects are renamed into place in
   * the order given. Callers fall back to `writeAtomic` + `crc32` when it is absent. `ready`, when given,
   * is awaited before the bytes of a part up to `end` are read (written or checksummed): a snapshot
   * being copied on the training thread is written as it is copied. `beforePublish`, when given, is
   * awaited once every object is durable under a temporary name and before the first one is put in
   * place; when it throws, the batch is abandoned and nothing of it becomes visible (fencing checks the
   * lock there, as late as it can).
   */
  writeAtomicBatch?(
    files: ReadonlyArray<readonly [string, FileContent]>,
    seal?: BatchSeal,
    ready?: PartReady,
    beforePublish?: PublishCheck,
  ): Promise<number[]>;
  /**
   * Optional, for backends with real directories: whether a directory (not an object) is at `relPath`, so a
   * reader can tell an index file replaced by a directory from a missing one.
   */
  isDirectory?(relPath: string): Promise<boolean>;
  /** Whether an object exists. */
  exists(relPath: string): Promise<boolean>;
  /** Size and modification time of an object, or `null` when it does not exist. */
  stat(relPath: string): Promise<StorageStat | null>;
  /** Relative paths of all objects below `prefix` (recursively), sorted. `''` lists everything. */
  list(prefix: string): Promise<string[]>;
  /** Deletes an object, or everything below it when it names a directory/prefix. Missing is not an error. */
  delete(relPath: string): Promise<void>;
  /**
   * Takes the exclusive writer lock of this storage root. Throws `CheckpointLockError` when another
   * live writer holds it; a lock left by a dead process is recovered. Returns the release function;
   * on backends with fencing it carries the lock's fencing `token` (see `checkLockToken`), so
   * whoever holds the lock can fence writes made through another instance of the same root.
   */
  lock(): Promise<HeldLock>;
  /**
   * Optional: the fencing token of the writer lock this object holds (set by `lock()`, cleared on
   * release). The checkpoint writer checks it before every write, so a job that lost its lock writes nothing more.
   */
  readonly heldLockToken?: string;
  /**
   * Optional: throws `CheckpointLockError` unless the writer lock is (still) held under `token`. Works on
   * any instance opened on the same root, e.g. the checkpoint writer's worker thread's.
   */
  checkLockToken?(token: string): Promise<void>;
  /**
   * Optional: how a worker thread opens this same storage with `openStorage`, or `null` when this object
   * carries behaviour that cannot cross threads (an injected file system, clock or SDK). Without it,
   * checkpoints are written on the training thread.
   */
  describeForWorker?(): WorkerStorageDescription | null;
}

/**
 * A storage as plain data, for `openStorage` in another thread: the modelDir string and the options that
 * can be cloned (no functions). Credentials not given here come from the worker's environment, which is
 * the training thread's.
 */
export interface WorkerStorageDescription {
  /** The modelDir string (`/abs/path` or `s3://bucket/prefix`). */
  modelDir: string;
  /** Cloneable local options. */
  local?: Pick<LocalCheckpointStorageOptions, 'lockStaleMs'>;
  /** Cloneable S3 options (endpoint, region and credentials resolved from the environment when given there). */
  s3?: Pick<
    S3CheckpointStorageOptions,
    | 'endpoint'
    | 'region'
    | 'credentials'
    | 'forcePathStyle'
    | 'maxAttempts'
    | 'retryBaseDelayMs'
    | 'retryMaxDelayMs'
    | 'lockStaleMs'
    | 'connectionTimeoutMs'
    | 'requestTimeoutMs'
  >;
}

/**
 * The bytes of one object of a {@link CheckpointStorage.writeAtomicBatch}: one buffer, parts written back to
 * back, or a {@link HeadedContent} whose head is made from the CRC-32 of the rest.
 */
export type FileContent = Uint8Array | readonly Uint8Array[] | HeadedContent;

/**
 * An object whose first bytes depend on the CRC-32 of the bytes after them (a blob frame header): the
 * storage writes `body` first, checksumming it as it goes, then `head(bodyCrc32)` in front of it, so the
 * body is read once (a 50 MB optimizer state is not checksummed twice). Use `resolveContent` where an
 * object must be one buffer.
 */
export interface HeadedContent {
  /** Length in bytes of what `head` returns. */
  readonly headBytes: number;
  /** The bytes after the head, back to back. */
  readonly body: readonly Uint8Array[];
  /** The head for a body whose CRC-32 is `bodyCrc32`. */
  readonly head: (bodyCrc32: number) => Uint8Array;
}

/** Makes the last object of a batch from the CRC-32s of the others (in their order): its path and bytes. */
export type BatchSeal = (checksums: readonly number[]) => readonly [string, Uint8Array];

/**
 * Resolves once the bytes of `part` before `end` (relative to the part) may be read: see
 * {@link CheckpointStorage.writeAtomicBatch}.
 */
export type PartReady = (part: Uint8Array, end: number) => Promise<void>;

/**
 * Runs right before a batch's objects are put in place, and abandons the batch by throwing: see
 * {@link CheckpointStorage.writeAtomicBatch}.
 */
export type PublishCheck = () => Promise<void>;

/** What {@link CheckpointStorage.readChecksummed} returns. */
export interface ChecksummedBytes {
  /** The object's whole content. */
  bytes: Uint8Array;
  /** CRC-32 (IEEE) of `bytes`. */
  crc32: number;
}

/** Metadata of one stored object. */
export interface StorageStat {
  /** Size of the object in bytes. */
  size: number;
  /**
   * Last modification time, in milliseconds since the Unix epoch (S3: the object's `LastModified`;
   * 0 when the store does not report it).
   */
  mtimeMs: number;
}
