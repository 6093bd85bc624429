import * as fse from 'fs-extra';
import { type FsLayer, isNotFound, realFsLayer, toStat } from './fs_layer';

/**
 * Bytes written to a descriptor above which its flush goes to libuv's thread pool instead of blocking: a
 * flush that has tens of MB to write lets the next file's writes overlap it, a small one is over sooner
 * than a thread-pool round trip.
 */
const POOLED_FSYNC_MIN_BYTES = 1024 * 1024;

/**
 * One turn of the event loop (no thread hand-off: microseconds). Taken before every call, so a job the
 * training thread posts while a save is in flight is received and queued — replacing the waiting one, which
 * keeps memory bounded — instead of piling up in the message port until the save ends.
 */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The file system for the checkpoint writer's worker thread: the same calls as {@link realFsLayer}, made
 * synchronously on the calling thread, except the flush of a file with more than 1 MiB written. That thread
 * has nothing else to do, and each call through the thread pool costs a hand-off to a pool thread and back:
 * measured while wasm training kept one of two cores busy, 5–15 ms per call for a syscall of microseconds,
 * about 30 of them per save (the index read, path checks, opens, renames, the index write), which made a
 * 67 MB save 2–3× a raw write + fsync. The calls keep the asynchronous signature (a failure is a rejection,
 * as with the pooled layer) and give the event loop a turn first.
 */
export function blockingFsLayer(): FsLayer {
  const written = new Map<number, number>();
  return {
    open: async (path, flags, mode) => {
      await turn();
      const fd = fse.openSync(path, flags, mode);
      written.set(fd, 0);
      return fd;
    },
    write: async (fd, buffer, offset, length, position) => {
      await turn();
      const n = fse.writeSync(fd, buffer, offset, length, position);
      written.set(fd, (written.get(fd) ?? 0) + n);
      return n;
    },
    read: async (fd, buffer, offset, length, position) => {
      await turn();
      return fse.readSync(fd, buffer, offset, length, position);
    },
    fsync: async (fd) => {
      await turn();
      if ((written.get(fd) ?? 0) > POOLED_FSYNC_MIN_BYTES) return realFsLayer.fsync(fd);
      fse.fsyncSync(fd);
    },
    close: async (fd) => {
      await turn();
      written.delete(fd);
      fse.closeSync(fd);
    },
    rename: async (from, to) => {
      await turn();
      return fse.renameSync(from, to);
    },
    unlink: async (path) => {
      await turn();
      try {
        fse.unlinkSync(path);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
    remove: async (path) => {
      await turn();
      return fse.removeSync(path);
    },
    mkdirp: async (path) => {
      await turn();
      fse.mkdirpSync(path);
    },
    readFile: async (path) => {
      await turn();
      const b = fse.readFileSync(path);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    lstat: async (path) => {
      await turn();
      try {
        return toStat(fse.lstatSync(path));
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },
    readdir: async (path) => {
      await turn();
      return fse.readdirSync(path);
    },
    realpath: async (path) => {
      await turn();
      return fse.realpathSync(path);
    },
    assertWritable: async (path) => {
      await turn();
      return fse.accessSync(path, fse.constants.W_OK);
    },
  };
}
