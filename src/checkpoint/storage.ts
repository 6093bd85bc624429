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
  /** Writes an object atomically (see the interface comment), creating parent "directories" as needed. */
  writeAtomic(relPath: string, data: Uint8Array): Promise<void>;
  /**
   * Optional, for backends where durability can be batched: writes several objects, each atomically as
   * `writeAtomic` does, makes them all durable together (one directory fsync instead of one per file),
   * and returns each object's CRC-32, computed while its bytes are written. Objects are renamed into
   * place in the order given. Callers fall back to `writeAtomic` + `crc32` when it is absent.
   */
  writeAtomicBatch?(files: ReadonlyArray<readonly [string, Uint8Array]>): Promise<number[]>;
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
   * live writer holds it; a lock left by a dead process is recovered. Returns the release function.
   */
  lock(): Promise<() => Promise<void>>;
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
