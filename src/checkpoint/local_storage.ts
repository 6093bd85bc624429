import * as path from 'path';
import { threadId } from 'worker_threads';
import { CheckpointError, CheckpointNotFoundError, InvalidArgumentError, PathEscapeError } from '../errors';
import { crc32 } from './checksum';
import { acquireDirectoryLock, checkDirectoryLockToken } from './directory_lock';
import { FsLayer, isNotFound, realFsLayer } from './fs_layer';
import { lockStaleMsFromEnv } from './lock_stale_env';
import { CheckpointLogger, consoleLogger } from './logger';
import { checkRelativePath } from './paths';
import { contentBytes, headFor, headedCrc32, isHeaded } from './file_content';
import { type BatchSeal, CheckpointStorage, type ChecksummedBytes, type FileContent, type HeldLock, type PartReady, type PublishCheck, StorageStat, WorkerStorageDescription } from './storage';

/** Options of {@link LocalCheckpointStorage}. */
export interface LocalCheckpointStorageOptions {
  /** File-system calls (tests inject faults here). Default: the real file system. */
  fs?: FsLayer;
  /**
   * A lock whose owner stopped refreshing its heartbeat for this long is considered left by a dead process
   * and is taken over (the owner refreshes it every `lockStaleMs / 3`). A lock whose owner ran on this host
   * and is no longer running is taken over at once, whatever its age. Default 10000 ms: long enough that a
   * busy event loop does not lose its lock, short enough that a job restarted on another host after
   * `kill -9` waits at most ten seconds.
   */
  lockStaleMs?: number;
  /** Clock of lock heartbeats and staleness decisions (ms since the epoch); injectable for tests. Default `Date.now`. */
  now?: () => number;
  /** Only read: do not create the directory and do not require write permission. */
  readOnly?: boolean;
  /** Where lock problems are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
}

/**
 * Bytes handed to one `write` call: big enough to stream at disk speed, small enough to fault mid-file. 1 MiB:
 * the chunk is checksummed while the kernel copies it, and with 4 MiB chunks the two contend (measured on 70 MB:
 * 1 MiB 36-49 ms, 4 MiB 29-154 ms, `fs.writeFile` 36-54 ms).
 */
const WRITE_CHUNK_BYTES = 1024 * 1024;
/** Reads of {@link LocalCheckpointStorage.readChecksummed}: big enough to amortise a thread-pool round trip. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

let tempCounter = 0;

function errnoCode(e: unknown): string {
  return (e as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
}

function errnoMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function adviceFor(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'The disk is full: free space or lower keepCheckpointMax, then save again.';
    case 'EIO':
      return 'The device reported an I/O error: check the disk before trusting new checkpoints.';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'The directory is not writable: fix its permissions or choose another modelDir.';
    default:
      return 'Check the file system and save again.';
  }
}

/**
 * `CheckpointStorage` on a local directory. Writes are crash-safe: a temporary file in the same
 * directory is written, fsynced, renamed over the target and the directory is fsynced, so after a
 * crash at any point a reader sees either the old or the complete new object. Every path is confined
 * to the root, including through symlinks. Names starting with `.` (temporary files, the lock) are
 * private to the storage and never listed.
 */
export class LocalCheckpointStorage implements CheckpointStorage {
  /** Absolute directory, as given (resolved against the current directory). */
  readonly location: string;
  private readonly fs: FsLayer;
  private readonly lockStaleMs: number;
  private readonly now: () => number;
  private readonly readOnly: boolean;
  private readonly logger: CheckpointLogger;
  private readyPromise: Promise<string> | undefined;
  private readonly cloneable: boolean;
  private readonly givenLockStaleMs: number | undefined;
  private lockToken: string | undefined;

  /**
   * Touches nothing on disk: the directory is checked (and created unless read-only) at first use; use
   * {@link LocalCheckpointStorage.open} to check it right away.
   * @param dir the storage root, relative to the current directory or absolute.
   * @throws InvalidArgumentError when `lockStaleMs` is not a positive number.
   */
  constructor(dir: string, options: LocalCheckpointStorageOptions = {}) {
    this.location = path.resolve(dir);
    this.fs = options.fs ?? realFsLayer;
    this.lockStaleMs = options.lockStaleMs ?? lockStaleMsFromEnv() ?? 10000;
    if (!(this.lockStaleMs > 0)) {
      throw new InvalidArgumentError(`lockStaleMs must be a positive number of milliseconds, got ${this.lockStaleMs}.`);
    }
    this.now = options.now ?? Date.now;
    this.readOnly = options.readOnly ?? false;
    this.logger = options.logger ?? consoleLogger;
    this.givenLockStaleMs = options.lockStaleMs;
    // An injected file system or clock stays on this thread: a worker could not reproduce it.
    this.cloneable = options.fs === undefined && options.now === undefined && !this.readOnly;
  }

  /** Creates the storage and checks the directory right away (a file, or not writable → `CheckpointError`). */
  static async open(dir: string, options: LocalCheckpointStorageOptions = {}): Promise<LocalCheckpointStorage> {
    const storage = new LocalCheckpointStorage(dir, options);
    await storage.realRoot();
    return storage;
  }

  /** Checks the directory once and returns its real path (symlinks resolved), the confinement root. */
  private realRoot(): Promise<string> {
    this.readyPromise ??= this.checkDirectory();
    return this.readyPromise;
  }

  private async checkDirectory(): Promise<string> {
    const root = this.location;
    const st = await this.fs.lstat(root);
    if (st !== null && !st.isDirectory && !st.isSymbolicLink) {
      throw new CheckpointError(
        `modelDir ${root} is a file, not a directory: pass the path of a directory (it is created if missing).`,
      );
    }
    if (st === null) {
      if (this.readOnly) {
        throw new CheckpointNotFoundError(`modelDir ${root} does not exist: check the path.`);
      }
      try {
        await this.fs.mkdirp(root);
      } catch (e) {
        throw new CheckpointError(
          `Cannot create modelDir ${root} (${errnoCode(e)}: ${errnoMessage(e)}). ${adviceFor(errnoCode(e))}`,
          { cause: e },
        );
      }
    }
    const real = await this.fs.realpath(root);
    const realStat = await this.fs.lstat(real);
    if (realStat === null || !realStat.isDirectory) {
      throw new CheckpointError(
        `modelDir ${root} is not a directory (it resolves to ${real}): pass the path of a directory.`,
      );
    }
    if (!this.readOnly) {
      try {
        await this.fs.assertWritable(real);
      } catch (e) {
        throw new CheckpointError(
          `modelDir ${root} is not writable by this process (${errnoCode(e)}): ` +
            'fix its permissions or choose another modelDir.',
          { cause: e },
        );
      }
    }
    return real;
  }

  /**
   * Absolute path of a storage-relative path, after checking it lexically (`checkRelativePath`) and
   * physically: the deepest existing ancestor, symlinks resolved, must still be inside the root.
   */
  private async resolve(relPath: string): Promise<string> {
    const realRoot = await this.realRoot();
    const canonical = checkRelativePath(relPath, this.location);
    const abs = path.join(realRoot, ...canonical.split('/'));
    let probe = abs;
    let realProbe: string | undefined;
    while (realProbe === undefined) {
      while ((await this.fs.lstat(probe)) === null && probe !== realRoot) probe = path.dirname(probe);
      if (probe === realRoot) await this.checkNotVanished(realRoot);
      try {
        realProbe = await this.fs.realpath(probe);
      } catch (e) {
        // Deleted between the lstat and the realpath (a writer's retention while this reads): look higher up.
        if (!isNotFound(e) || probe === realRoot) throw e;
        probe = path.dirname(probe);
      }
    }
    if (realProbe !== realRoot && !realProbe.startsWith(realRoot + path.sep)) {
      throw new PathEscapeError(
        `Refusing path ${JSON.stringify(relPath)} under ${this.location}: it goes through a symlink to ` +
          `${realProbe}, outside the checkpoint directory. Remove the symlink or store checkpoints elsewhere.`,
      );
    }
    return abs;
  }

  /**
   * A modelDir deleted, moved or unmounted under a running job: say so (and never recreate it, which would
   * hide the loss) instead of an ENOENT from wherever the next call happens to look.
   */
  private async checkNotVanished(realRoot: string): Promise<void> {
    if ((await this.fs.lstat(realRoot)) !== null) return;
    throw new CheckpointNotFoundError(
      `modelDir ${this.location} no longer exists: it was deleted, moved or unmounted while in use, and the ` +
        'checkpoints in it with it. Check the mount; restart the job to begin again in a fresh modelDir.',
    );
  }

  /**
   * Why a mkdir failed. On a file system remounted read-only Node's recursive mkdir reports ENOENT (it stats
   * the path after the EROFS), which reads as "missing": probe the root's writability to report the real cause.
   */
  private async mkdirFailure(e: unknown): Promise<unknown> {
    if (errnoCode(e) !== 'ENOENT') return e;
    const realRoot = await this.realRoot();
    await this.checkNotVanished(realRoot);
    try {
      await this.fs.assertWritable(realRoot);
    } catch (probe) {
      const cause: NodeJS.ErrnoException = new Error(`the file system refuses writes to ${realRoot}`);
      cause.code = errnoCode(probe);
      return cause;
    }
    return e;
  }

  async read(relPath: string): Promise<Uint8Array> {
    const abs = await this.resolve(relPath);
    const st = await this.fs.lstat(abs);
    if (st === null || st.isDirectory) {
      throw new CheckpointNotFoundError(`${relPath} does not exist in ${this.location}.`);
    }
    try {
      return await this.fs.readFile(abs);
    } catch (e) {
      throw new CheckpointError(
        `Could not read ${relPath} in ${this.location} (${errnoCode(e)}: ${errnoMessage(e)}).`,
        { cause: e },
      );
    }
  }

  /**
   * Reads in chunks into one buffer, checksumming each chunk while the next one is read (the read runs on
   * libuv's thread pool). Same errors as {@link read}.
   */
  async readChecksummed(relPath: string): Promise<ChecksummedBytes> {
    const abs = await this.resolve(relPath);
    const st = await this.fs.lstat(abs);
    if (st === null || st.isDirectory) {
      throw new CheckpointNotFoundError(`${relPath} does not exist in ${this.location}.`);
    }
    const readChunk = this.fs.read?.bind(this.fs);
    if (readChunk === undefined) {
      const bytes = await this.read(relPath);
      return { bytes, crc32: crc32(bytes) };
    }
    const failed = (e: unknown): CheckpointError =>
      e instanceof CheckpointNotFoundError || isNotFound(e)
        ? new CheckpointNotFoundError(`${relPath} does not exist in ${this.location}.`)
        : new CheckpointError(`Could not read ${relPath} in ${this.location} (${errnoCode(e)}: ${errnoMessage(e)}).`, { cause: e });
    let fd: number;
    try {
      fd = await this.fs.open(abs, 'r');
    } catch (e) {
      throw failed(e);
    }
    try {
      // The size lstat saw: a file that changed since reads short (or is cut there) and fails its caller's size check.
      const out = new Uint8Array(st.size);
      let filled = 0;
      let checksum = 0;
      const next = (): Promise<number> | null =>
        filled < out.byteLength ? readChunk(fd, out, filled, Math.min(READ_CHUNK_BYTES, out.byteLength - filled), filled) : null;
      for (let pending = next(); pending !== null; ) {
        const n = await pending;
        if (n === 0) break;
        const start = filled;
        filled += n;
        pending = next();
        checksum = crc32(out.subarray(start, filled), checksum);
      }
      return { bytes: out.subarray(0, filled), crc32: checksum };
    } catch (e) {
      throw failed(e);
    } finally {
      await this.fs.close(fd).catch(() => undefined);
    }
  }

  async writeAtomic(relPath: string, data: Uint8Array): Promise<void> {
    await this.writeAtomicBatch([[relPath, data]]);
  }

  /**
   * Writes each file to a temporary file beside it (checksumming each chunk while the chunk's write is in
   * flight; a file given in parts is written part after part into one file), then the `seal` file made from
   * their checksums, fsyncs each temporary file as soon as it is written (all before any rename), renames them into place in the order given (the
   * seal last) and fsyncs each directory once. A crash at any point leaves every target with its old or its
   * complete new content; a failure removes the temporary files not yet renamed and names the file and the stage.
   * `beforePublish` runs between the fsyncs and the first rename (see `CheckpointStorage.writeAtomicBatch`).
   */
  async writeAtomicBatch(
    files: ReadonlyArray<readonly [string, FileContent]>,
    seal?: BatchSeal,
    ready?: PartReady,
    beforePublish?: PublishCheck,
  ): Promise<number[]> {
    const entries: Array<{ relPath: string; abs: string; content: FileContent }> = await Promise.all(
      files.map(async ([relPath, content]) => ({ relPath, abs: await this.resolve(relPath), content })),
    );
    const fail = (relPath: string, stage: string, e: unknown, previousUnchanged: boolean): CheckpointError =>
      new CheckpointError(
        `Could not write ${relPath} in ${this.location}: ${stage} failed (${errnoCode(e)}: ${errnoMessage(e)}). ` +
          (previousUnchanged
            ? `The previous content of ${relPath} is unchanged. `
            : `The new content is in place but may not survive a power loss. `) +
          adviceFor(errnoCode(e)),
        { cause: e },
      );
    const dirs: string[] = [];
    // Directories this batch created: a failed batch removes them again when they are empty, since nothing
    // (no listing, no orphan removal) ever sees an empty directory, e.g. a first save's on a full disk.
    const created: string[] = [];
    const ensureDirectory = async (relPath: string, abs: string): Promise<void> => {
      const dir = path.dirname(abs);
      if (dirs.includes(dir)) return;
      try {
        if ((await this.fs.lstat(dir)) === null) created.push(dir);
        await this.fs.mkdirp(dir);
      } catch (e) {
        const cause = await this.mkdirFailure(e);
        throw fail(relPath, 'creating the directory', cause, true);
      }
      dirs.push(dir);
    };
    for (const { relPath, abs } of entries) await ensureDirectory(relPath, abs);
    const temps: string[] = [];
    const fds: number[] = [];
    // Each file's fsync starts as soon as its bytes are written, while the next file is written.
    const syncs: Array<Promise<void>> = [];
    const abandon = async (): Promise<void> => {
      await Promise.allSettled(syncs);
      for (const fd of fds) if (fd >= 0) await this.fs.close(fd).catch(() => undefined);
      for (const temp of temps) await this.fs.unlink(temp).catch(() => undefined);
      for (const dir of created.reverse()) {
        if ((await this.fs.readdir(dir).catch(() => [dir])).length === 0) await this.fs.remove(dir).catch(() => undefined);
      }
    };
    const writeTemporary = async (relPath: string, abs: string, content: FileContent): Promise<number> => {
      tempCounter += 1;
      // The thread id too: each checkpoint writer worker has its own counter, and a temp file left by one (a
      // failed write) must not collide with the next's in the same process.
      const temp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}-${threadId}-${tempCounter}`);
      try {
        fds.push(await this.fs.open(temp, 'wx', 0o644));
      } catch (e) {
        await abandon();
        throw fail(relPath, 'creating a temporary file', e, true);
      }
      temps.push(temp);
      const fd = fds[fds.length - 1];
      let checksum: number;
      try {
        checksum = await this.writeChecksummed(fd, content, ready);
      } catch (e) {
        await abandon();
        throw fail(relPath, 'writing the temporary file', e, true);
      }
      syncs.push(this.fs.fsync(fd));
      return checksum;
    };
    const checksums: number[] = [];
    for (const { relPath, abs, content } of entries) checksums.push(await writeTemporary(relPath, abs, content));
    if (seal !== undefined) {
      const [relPath, bytes] = seal(checksums);
      let abs: string;
      try {
        abs = await this.resolve(relPath);
        await ensureDirectory(relPath, abs);
      } catch (e) {
        await abandon();
        throw e;
      }
      entries.push({ relPath, abs, content: bytes });
      await writeTemporary(relPath, abs, bytes);
    }
    // Every temporary file durable before any rename (the fsyncs overlap: one journal commit can serve them all).
    const synced = await Promise.allSettled(syncs);
    const unsynced = synced.findIndex((r) => r.status === 'rejected');
    if (unsynced >= 0) {
      await abandon();
      throw fail(entries[unsynced].relPath, 'fsync of the temporary file', (synced[unsynced] as PromiseRejectedResult).reason, true);
    }
    if (beforePublish !== undefined) {
      try {
        await beforePublish();
      } catch (e) {
        await abandon();
        throw e;
      }
    }
    for (const [index, { relPath, abs }] of entries.entries()) {
      try {
        await this.fs.close(fds[index]);
        fds[index] = -1;
        await this.fs.rename(temps[index], abs);
      } catch (e) {
        for (const fd of fds.slice(index)) if (fd >= 0) await this.fs.close(fd).catch(() => undefined);
        for (const temp of temps.slice(index)) await this.fs.unlink(temp).catch(() => undefined);
        throw fail(relPath, `renaming the temporary file onto ${relPath}`, e, true);
      }
    }
    for (const dir of dirs) {
      try {
        await this.syncDirectory(dir);
      } catch (e) {
        throw fail(entries[0].relPath, 'fsync of the directory', e, false);
      }
    }
    return checksums;
  }

  /**
   * Writes `content` (one buffer or its parts, back to back; a headed content's body, then its head) from
   * position 0 and returns the CRC-32 of the whole file, checksumming each chunk while its write is in flight.
   */
  private async writeChecksummed(fd: number, content: FileContent, ready: PartReady | undefined): Promise<number> {
    if (isHeaded(content)) {
      // The body after the head's room, checksummed as it is written; then the head made from that checksum.
      const bodyCrc = await this.writePartsChecksummed(fd, content.body, content.headBytes, ready);
      const head = headFor(content, bodyCrc);
      await this.writePartsChecksummed(fd, [head], 0);
      return headedCrc32(head, bodyCrc, contentBytes(content) - content.headBytes);
    }
    return this.writePartsChecksummed(fd, content instanceof Uint8Array ? [content] : (content as readonly Uint8Array[]), 0, ready);
  }

  /** Writes `parts` back to back from `start` and returns their CRC-32 (each chunk once `ready` allows). */
  private async writePartsChecksummed(fd: number, parts: readonly Uint8Array[], start: number, ready?: PartReady): Promise<number> {
    let checksum = 0;
    let position = start;
    for (const data of parts) {
      let written = 0;
      while (written < data.byteLength) {
        const length = Math.min(WRITE_CHUNK_BYTES, data.byteLength - written);
        if (ready !== undefined) await ready(data, written + length);
        const writing = this.fs.write(fd, data, written, length, position);
        // The write runs on libuv's thread pool; the checksum of the same bytes runs here meanwhile.
        const before = checksum;
        checksum = crc32(data.subarray(written, written + length), before);
        const n = await writing;
        // A short write: the next round writes (and checksums) the rest.
        if (n < length) checksum = crc32(data.subarray(written, written + n), before);
        written += n;
        position += n;
      }
    }
    return checksum;
  }

  /** Makes a rename in `dir` durable: without it a power loss can undo the rename. */
  private async syncDirectory(dir: string): Promise<void> {
    const fd = await this.fs.open(dir, 'r');
    try {
      await this.fs.fsync(fd);
    } finally {
      await this.fs.close(fd);
    }
  }

  async exists(relPath: string): Promise<boolean> {
    return (await this.stat(relPath)) !== null;
  }

  async isDirectory(relPath: string): Promise<boolean> {
    const st = await this.fs.lstat(await this.resolve(relPath));
    return st !== null && st.isDirectory;
  }

  async stat(relPath: string): Promise<StorageStat | null> {
    const abs = await this.resolve(relPath);
    const st = await this.fs.lstat(abs);
    if (st === null || st.isDirectory) return null;
    return { size: st.size, mtimeMs: st.mtimeMs };
  }

  /**
   * Objects below the directory `prefix` (`''`: all), as the contract defines it for every backend:
   * `list('dir')` finds `dir/x` but not `dirx`. A trailing `/` is allowed.
   */
  async list(prefix: string): Promise<string[]> {
    let start = await this.realRoot();
    await this.checkNotVanished(start);
    let relStart = '';
    if (prefix !== '') {
      relStart = checkRelativePath(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, this.location);
      start = await this.resolve(relStart);
      const st = await this.fs.lstat(start);
      if (st === null || !st.isDirectory) return [];
    }
    const found: string[] = [];
    const walk = async (absDir: string, relDir: string): Promise<void> => {
      let names: string[];
      try {
        names = await this.fs.readdir(absDir);
      } catch (e) {
        // A directory deleted while it is listed (retention of a writer running beside this reader) holds nothing,
        // and so does a listed prefix deleted after its lstat; only a vanished root is an error (checkNotVanished).
        if (isNotFound(e) && (absDir !== start || prefix !== '')) return;
        throw e;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const rel = relDir === '' ? name : `${relDir}/${name}`;
        const st = await this.fs.lstat(path.join(absDir, name));
        if (st === null) continue;
        if (st.isDirectory) await walk(path.join(absDir, name), rel);
        else found.push(rel);
      }
    };
    await walk(start, relStart);
    return found.sort();
  }

  async delete(relPath: string): Promise<void> {
    const abs = await this.resolve(relPath);
    await this.fs.remove(abs);
  }

  /**
   * Takes the writer lock of the directory (see `acquireDirectoryLock`): a lock left by a process of this
   * host that is no longer running is taken over at once, so a job restarted after `kill -9` starts
   * immediately; another live writer → `CheckpointLockError` naming it.
   */
  async lock(): Promise<HeldLock> {
    const held = await acquireDirectoryLock(await this.realRoot(), {
      staleMs: this.lockStaleMs,
      now: this.now,
      logger: this.logger,
      displayName: this.location,
    });
    this.lockToken = held.token;
    const release = async (): Promise<void> => {
      if (this.lockToken === held.token) this.lockToken = undefined;
      await held();
    };
    return Object.assign(release, { token: held.token });
  }

  /** The owner token of the lock `lock()` took, while held. */
  get heldLockToken(): string | undefined {
    return this.lockToken;
  }

  /** Throws `CheckpointLockError` unless the directory's lock is held under `token`. */
  async checkLockToken(token: string): Promise<void> {
    await checkDirectoryLockToken(await this.realRoot(), token, this.location, this.fs);
  }

  /** The directory and lock stale time; `null` with an injected file system or clock, or read-only. */
  describeForWorker(): WorkerStorageDescription | null {
    if (!this.cloneable) return null;
    return { modelDir: this.location, local: this.givenLockStaleMs !== undefined ? { lockStaleMs: this.givenLockStaleMs } : {} };
  }
}
