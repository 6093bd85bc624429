import * as fse from 'fs-extra';

/** What `FsLayer.stat` reports: enough to tell files from directories and to size reads. */
export interface FsStat {
  /** Size in bytes. */
  size: number;
  /** Last modification time, in milliseconds since the Unix epoch. */
  mtimeMs: number;
  /** Whether the entry is a regular file. */
  isFile: boolean;
  /** Whether the entry is a directory. */
  isDirectory: boolean;
  /** Whether the entry is itself a symbolic link (`lstat` does not follow it). */
  isSymbolicLink: boolean;
}

/**
 * The handful of file-system calls `LocalCheckpointStorage` makes. Every call goes through this seam so
 * tests can inject the failures real disks produce (ENOSPC or EIO half-way through a write, a rename
 * that fails, an fsync that fails) and prove the previous checkpoint survives them.
 */
export interface FsLayer {
  /** Opens a file and returns its descriptor (`flags` as in `fs.open`: 'r', 'wx', ...). */
  open(path: string, flags: string, mode?: number): Promise<number>;
  /** Writes `length` bytes of `buffer` from `offset` at file position `position`; returns bytes written. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Optional: reads up to `length` bytes at file position `position` into `buffer` from `offset`; returns bytes
   * read (0 at the end). Without it, files are read whole with `readFile` and checksummed afterwards.
   */
  read?(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Flushes a file (or directory) descriptor to stable storage. */
  fsync(fd: number): Promise<void>;
  /** Closes a descriptor returned by `open`. */
  close(fd: number): Promise<void>;
  /** Renames `from` to `to`, replacing `to` if it exists: the atomic step of every write. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file; a missing file is not an error. */
  unlink(path: string): Promise<void>;
  /** Deletes a file or a directory tree; missing is not an error. */
  remove(path: string): Promise<void>;
  /** Creates a directory and its parents. */
  mkdirp(path: string): Promise<void>;
  /** Whole content of a file; rejects (ENOENT) when it does not exist. */
  readFile(path: string): Promise<Uint8Array>;
  /** `lstat` (does not follow symlinks), or `null` when nothing exists at `path`. */
  lstat(path: string): Promise<FsStat | null>;
  /** Names of the entries of a directory. */
  readdir(path: string): Promise<string[]>;
  /** The canonical absolute path of `path`, with every symlink resolved (as `fs.realpath`). */
  realpath(path: string): Promise<string>;
  /** Throws unless the current process may write into `path`. */
  assertWritable(path: string): Promise<void>;
}

/** An `fs.Stats` as {@link FsStat}. */
export function toStat(s: fse.Stats): FsStat {
  return {
    size: s.size,
    mtimeMs: s.mtimeMs,
    isFile: s.isFile(),
    isDirectory: s.isDirectory(),
    isSymbolicLink: s.isSymbolicLink(),
  };
}

/** Whether a file-system error says the path does not exist (ENOENT). */
export function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** The real file system, through fs-extra. */
export const realFsLayer: FsLayer = {
  open: (path, flags, mode) => fse.open(path, flags, mode),
  write: async (fd, buffer, offset, length, position) =>
    (await fse.write(fd, buffer, offset, length, position)).bytesWritten,
  read: async (fd, buffer, offset, length, position) => (await fse.read(fd, buffer, offset, length, position)).bytesRead,
  fsync: (fd) => fse.fsync(fd),
  close: (fd) => fse.close(fd),
  rename: (from, to) => fse.rename(from, to),
  unlink: async (path) => {
    try {
      await fse.unlink(path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
  remove: (path) => fse.remove(path),
  mkdirp: (path) => fse.mkdirp(path).then(() => undefined),
  readFile: async (path) => {
    const b = await fse.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
  lstat: async (path) => {
    try {
      return toStat(await fse.lstat(path));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  },
  readdir: (path) => fse.readdir(path),
  realpath: (path) => fse.realpath(path),
  assertWritable: (path) => fse.access(path, fse.constants.W_OK),
};
