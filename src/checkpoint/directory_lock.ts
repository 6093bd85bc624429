import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as lockfile from 'proper-lockfile';
import { CheckpointError, CheckpointLockError, CheckpointLockHeldError } from '../errors';
import { type FsLayer, realFsLayer } from './fs_layer';
import { forgetHeldToken, isHolderDeadOnThisHost, rememberHeldToken } from './lock_holder';
import { CheckpointLogger } from './logger';

/** Name of the lock directory inside the locked directory (private: names starting with `.` are never listed). */
export const LOCK_DIR_NAME = '.lock';
/** The owner record, inside the lock directory so that it lives and dies with the lock. */
export const LOCK_OWNER_FILE = 'owner.json';
/** Mutex serialising take-overs, so two restarting jobs cannot both remove a dead lock and both win. */
const TAKEOVER_DIR_NAME = '.lock-takeover';
/**
 * proper-lockfile's own staleness is switched off (a lock would have to be ~24 days old): we decide
 * staleness ourselves, knowing the owner and using the injectable clock. Must stay below 2^31 - 1 ms,
 * which `setTimeout` (used by proper-lockfile for its refresh) silently turns into 1 ms.
 */
const NEVER_STALE_MS = 2 ** 31 - 2;
/** Take-overs last milliseconds; the mutex of one killed mid-take-over is recovered after this. */
const TAKEOVER_STALE_MS = 2000;
/** How often `lock()` re-examines a lock that changed hands while it looked at it, before giving up. */
const MAX_ATTEMPTS = 5;

/** Who holds a lock: written into the lock directory when it is created. */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** Random per acquisition: tells this holder from an earlier one with the same pid (a restarted container). */
  token: string;
  /** When the lock was taken, by the lock's clock (ms since the epoch). */
  startedMs: number;
}

/** Options of {@link acquireDirectoryLock}. */
export interface DirectoryLockOptions {
  /** A lock whose heartbeat is at least this old (by `now`) was left by a dead writer and is taken over. */
  staleMs: number;
  /** Clock of heartbeats and staleness decisions (ms since the epoch). */
  now: () => number;
  /** Where take-overs and lost locks are reported. */
  logger: CheckpointLogger;
  /** The directory as the user named it, for messages. */
  displayName: string;
}

/** What `lock()` found in an existing lock directory. */
interface LockInspection {
  owner: LockOwner | undefined;
  /** Last heartbeat: the owner file's mtime, or the directory's when there is no (readable) owner file. */
  heartbeatMs: number;
  /** `live` → refuse; `dead` → the owner is a process of this host that no longer runs; `stale` → heartbeat too old. */
  verdict: 'live' | 'dead' | 'stale';
}

function errnoCode(e: unknown): string {
  return (e as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner> | null;
    if (
      v !== null &&
      typeof v === 'object' &&
      Number.isSafeInteger(v.pid) &&
      typeof v.hostname === 'string' &&
      typeof v.token === 'string' &&
      typeof v.startedMs === 'number'
    ) {
      return { pid: v.pid as number, hostname: v.hostname, token: v.token, startedMs: v.startedMs };
    }
  } catch {
    // An owner file cut short by a crash: treated like a lock without owner (decided by its age).
  }
  return undefined;
}


/** How long (tries × step) a contender waits for a just-created lock's owner file to appear. */
const OWNER_FILE_GRACE_TRIES = 10;
const OWNER_FILE_GRACE_STEP_MS = 20;

/** What `reading` (a read of the lock's owner file) gives, or `null` when there is no lock; other errors propagate. */
async function nullWithoutLock<T>(reading: Promise<T>): Promise<T | null> {
  try {
    return await reading;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

async function readOwner(lockDir: string): Promise<{ owner: LockOwner | undefined; mtimeMs: number } | null> {
  const ownerPath = path.join(lockDir, LOCK_OWNER_FILE);
  return nullWithoutLock(
    Promise.all([fs.promises.readFile(ownerPath, 'utf8'), fs.promises.stat(ownerPath)]).then(([text, st]) => ({
      owner: parseOwner(text),
      mtimeMs: st.mtimeMs,
    })),
  );
}

/**
 * The owner record of a lock (`undefined` when unreadable, `null` when there is no lock) read through the
 * storage's file layer: the fencing check runs before every write, on the writer thread's own layer.
 */
async function readOwnerThrough(fsLayer: FsLayer, lockDir: string): Promise<LockOwner | undefined | null> {
  return nullWithoutLock(fsLayer.readFile(path.join(lockDir, LOCK_OWNER_FILE)).then((bytes) => parseOwner(new TextDecoder().decode(bytes))));
}

async function inspect(lockDir: string, options: DirectoryLockOptions): Promise<LockInspection | null> {
  let dirMtimeMs: number;
  try {
    dirMtimeMs = (await fs.promises.stat(lockDir)).mtimeMs;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
  let record = await readOwner(lockDir);
  // The holder writes its owner file right after creating the directory: give it that instant, so the
  // verdict (and the error message) can name a live holder instead of "an unknown process".
  for (let wait = 0; record === null && wait < OWNER_FILE_GRACE_TRIES; wait++) {
    await new Promise((resolve) => setTimeout(resolve, OWNER_FILE_GRACE_STEP_MS));
    record = await readOwner(lockDir);
  }
  const owner = record?.owner;
  // Without an owner file (an older lock, or one created an instant ago) the directory's mtime, which
  // proper-lockfile refreshes, is the heartbeat.
  const heartbeatMs = record?.owner !== undefined ? record.mtimeMs : dirMtimeMs;
  let verdict: LockInspection['verdict'] = 'live';
  if (owner !== undefined && isHolderDeadOnThisHost(owner)) verdict = 'dead';
  else if (options.now() - heartbeatMs >= options.staleMs) verdict = 'stale';
  return { owner, heartbeatMs, verdict };
}

/**
 * Removes a lock directory only while its owner file still names `token` (`undefined`: a lock without
 * owner file). The directory is first renamed away in one atomic step, so `.lock` is never left half
 * removed (an owner-less lock that a restarted job could not attribute, and would wait out as stale);
 * the renamed copy is deleted afterwards, best effort.
 */
async function removeLockDir(lockDir: string, token: string | undefined): Promise<boolean> {
  const record = await readOwner(lockDir);
  if ((record?.owner?.token ?? undefined) !== token) return false;
  const doomed = `${lockDir}-old-${token ?? randomUUID()}`;
  try {
    await fs.promises.rename(lockDir, doomed);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
  await fs.promises.rm(doomed, { recursive: true, force: true }).catch(() => undefined);
  return true;
}

function removeLockDirSync(lockDir: string, token: string): void {
  try {
    const owner = parseOwner(fs.readFileSync(path.join(lockDir, LOCK_OWNER_FILE), 'utf8'));
    if (owner?.token !== token) return;
    const doomed = `${lockDir}-old-${token}`;
    fs.renameSync(lockDir, doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
  } catch {
    // Exit-time cleanup: what cannot be removed is recovered by the next job (dead pid or stale heartbeat).
  }
}

/**
 * The file-system calls proper-lockfile makes, with the owner record attached: `mkdir` writes the owner
 * file (stamped with the heartbeat clock) before proper-lockfile reports the lock as taken, and the
 * removals (release, cleanup at exit) only remove a lock that still belongs to `owner`, so a job whose
 * lock was taken over can never delete its successor's lock.
 */
function ownerAwareFs(owner: LockOwner, now: () => number): Record<string, unknown> {
  const ownerJson = JSON.stringify(owner);
  return {
    ...fs,
    // The lock appears with its owner file in one atomic step: the directory is built under a private
    // name and renamed to `.lock`. A job killed at any point leaves either no lock or an attributable one.
    mkdir: (dir: string, callback: (err: NodeJS.ErrnoException | null) => void) => {
      const staging = `${dir}-new-${owner.token}`;
      const ownerPath = path.join(staging, LOCK_OWNER_FILE);
      const stamp = new Date(now());
      const discardStaging = (err: NodeJS.ErrnoException): void => {
        fs.rm(staging, { recursive: true, force: true }, () => callback(err));
      };
      fs.mkdir(staging, (err) => {
        if (err) return callback(err);
        fs.promises
          .writeFile(ownerPath, ownerJson, { flag: 'wx' })
          .then(() => fs.promises.utimes(ownerPath, stamp, stamp))
          .then(() => fs.promises.rename(staging, dir))
          .then(
            () => callback(null),
            (renameErr: NodeJS.ErrnoException) => {
              // rename onto an existing (non-empty) lock fails with ENOTEMPTY or EEXIST: the lock is held,
              // which proper-lockfile expects to hear as EEXIST from mkdir.
              const held = renameErr.code === 'ENOTEMPTY' || renameErr.code === 'EEXIST';
              discardStaging(held ? Object.assign(new Error(`EEXIST: ${dir} exists`), { code: 'EEXIST' }) : renameErr);
            },
          );
      });
    },
    rmdir: (dir: string, callback: (err: NodeJS.ErrnoException | null) => void) => {
      removeLockDir(dir, owner.token).then(
        () => callback(null),
        (err: NodeJS.ErrnoException) => callback(err),
      );
    },
    rmdirSync: (dir: string) => removeLockDirSync(dir, owner.token),
  };
}

function describeOwner(owner: LockOwner | undefined): string {
  return owner === undefined ? 'an unknown process' : `process ${owner.pid} on host ${owner.hostname}`;
}

function heldError(lockDir: string, seen: LockInspection, options: DirectoryLockOptions): CheckpointLockHeldError {
  const owner = seen.owner;
  const ageS = Math.max(0, Math.round((options.now() - seen.heartbeatMs) / 1000));
  const onThisHost = owner !== undefined && owner.hostname === os.hostname();
  return new CheckpointLockHeldError(
    `Another writer holds the checkpoint directory ${options.displayName} (lock ${lockDir}). Only one training job ` +
      'may write a modelDir: stop the other job or give this one another modelDir. ' +
      `The lock is held by ${describeOwner(owner)} (last heartbeat ${ageS} s ago)` +
      (onThisHost
        ? `, which is still running; if it is not a training job (its pid was reused), delete ${lockDir} and retry.`
        : `. If it died, its lock is taken over ${options.staleMs / 1000} s after its last heartbeat; retry then.`),
    owner === undefined ? undefined : { pid: owner.pid, hostname: owner.hostname, sinceMs: owner.startedMs },
  );
}

/**
 * Takes the exclusive lock of directory `root` (real path). A lock left by a process of this host that no
 * longer runs is taken over at once; any other lock is taken over once its heartbeat is `staleMs` old.
 * While held, the owner file's mtime is refreshed every `staleMs / 3` by `now`. Returns the release
 * function, which throws `CheckpointLockError` when the lock was taken over meanwhile (and then leaves
 * the new holder's lock alone).
 */
export async function acquireDirectoryLock(root: string, options: DirectoryLockOptions): Promise<HeldDirectoryLock> {
  const lockDir = path.join(root, LOCK_DIR_NAME);
  for (let attempt = 1; ; attempt++) {
    const taken = await tryAcquire(root, lockDir, options);
    if (taken !== null) return taken;
    const seen = await inspect(lockDir, options);
    if (seen === null) continue; // released meanwhile: try again
    if (seen.verdict === 'live') throw heldError(lockDir, seen, options);
    const tookOver = await takeOver(root, lockDir, seen, options);
    if (tookOver !== null) return tookOver;
    if (attempt >= MAX_ATTEMPTS) {
      throw new CheckpointLockError(
        `The lock of ${options.displayName} (${lockDir}) kept changing hands while this job tried to take it: ` +
          'several jobs are starting on the same modelDir. Run only one.',
      );
    }
  }
}

/** One proper-lockfile acquisition; `null` when the lock is held. */
async function tryAcquire(root: string, lockDir: string, options: DirectoryLockOptions): Promise<HeldDirectoryLock | null> {
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), token: randomUUID(), startedMs: options.now() };
  const state = { lost: false, released: false };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(root, {
      realpath: false,
      lockfilePath: lockDir,
      fs: ownerAwareFs(owner, options.now),
      stale: NEVER_STALE_MS,
      // proper-lockfile keeps the directory's mtime fresh and notices when the directory is replaced
      // (a take-over); our heartbeat is the owner file's mtime, which does not change the directory's.
      update: Math.max(1000, Math.floor(options.staleMs / 2)),
      retries: 0,
      onCompromised: (err: Error) => {
        state.lost = true;
        options.logger.warn(
          `The lock on ${options.displayName} was lost (${err.message}): another writer may be active.`,
        );
      },
    });
  } catch (e) {
    if (errnoCode(e) === 'ELOCKED') return null;
    throw new CheckpointError(`Could not lock ${options.displayName} (${errnoCode(e)}: ${String(e)}).`, { cause: e });
  }
  rememberHeldToken(owner.token);
  const ownerPath = path.join(lockDir, LOCK_OWNER_FILE);
  const beat = async (): Promise<void> => {
    const record = await readOwner(lockDir);
    if (record?.owner?.token !== owner.token) {
      state.lost = true;
      return;
    }
    const stamp = new Date(options.now());
    await fs.promises.utimes(ownerPath, stamp, stamp);
  };
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    // A failed beat (a full disk, a slow NFS server) is retried at the next tick; two missed beats still
    // leave the lock fresh.
    inFlight = inFlight.then(beat).catch(() => undefined);
  }, Math.max(1, Math.floor(options.staleMs / 3)));
  timer.unref();

  const releaseLock = async (): Promise<void> => {
    if (state.released) return;
    state.released = true;
    clearInterval(timer);
    forgetHeldToken(owner.token);
    await inFlight;
    const record = await readOwner(lockDir);
    if (state.lost || record?.owner?.token !== owner.token) {
      throw new CheckpointLockError(
        `The lock on ${options.displayName} was taken over while this job held it (now held by ` +
          `${record === null ? 'nobody' : describeOwner(record.owner)}), probably because its heartbeat could not be ` +
          `written for ${options.staleMs / 1000} s. Another job may have written to the modelDir: check its latest checkpoint.`,
      );
    }
    try {
      await release();
    } catch (e) {
      // Already released by proper-lockfile (process exit handling): nothing left to release.
      if (errnoCode(e) === 'ERELEASED' || errnoCode(e) === 'ENOTACQUIRED') return;
      // A file system remounted read-only keeps the lock too: the job's own outcome (a save's CheckpointError)
      // is what the caller must see, and the lock of an exited owner is taken over at once on this host.
      if (errnoCode(e) !== 'EROFS') throw e;
      options.logger.warn(
        `Could not remove the lock ${lockDir} of ${options.displayName} (EROFS: ${e instanceof Error ? e.message : String(e)}): ` +
          'the file system is read-only. The next job on this host takes it over at once (its owner will have exited).',
      );
    }
  };
  return Object.assign(releaseLock, { token: owner.token });
}

/** The release function of a held lock, carrying the lock's owner token (its fencing token). */
export type HeldDirectoryLock = (() => Promise<void>) & {
  /** The owner token written in the lock's owner file: while it is there, this job holds the lock. */
  readonly token: string;
};

/**
 * Throws `CheckpointLockError` unless the lock of `root` (real path) is held under `token`: the fencing
 * check a writer makes before it writes, so a job whose lock was taken over writes nothing more.
 */
export async function checkDirectoryLockToken(root: string, token: string, displayName: string, fsLayer: FsLayer = realFsLayer): Promise<void> {
  const owner = await readOwnerThrough(fsLayer, path.join(root, LOCK_DIR_NAME));
  if (owner?.token === token) return;
  throw new CheckpointLockError(
    `This job lost the writer lock of ${displayName}: it is now held by ${owner === null ? 'nobody' : describeOwner(owner)} ` +
      '(the lock was taken over, probably because this job was suspended past the stale time). Nothing more is written ' +
      'by this job; the other job owns the modelDir now. Check that only one job trains on it.',
  );
}

/**
 * Replaces a dead or stale lock by ours. Under the take-over mutex the lock is examined again and removed
 * only if it is still the one judged dead (same owner token), then taken through proper-lockfile's
 * atomic `mkdir`: of several jobs doing this at once exactly one succeeds; the others then find a live
 * lock. Returns `null` when the lock changed meanwhile.
 */
async function takeOver(
  root: string,
  lockDir: string,
  seen: LockInspection,
  options: DirectoryLockOptions,
): Promise<HeldDirectoryLock | null> {
  const mutexDir = path.join(root, TAKEOVER_DIR_NAME);
  let releaseMutex: () => Promise<void>;
  try {
    releaseMutex = await lockfile.lock(mutexDir, {
      realpath: false,
      lockfilePath: mutexDir,
      stale: TAKEOVER_STALE_MS,
      retries: { retries: 30, factor: 1.3, minTimeout: 10, maxTimeout: 200 },
      onCompromised: () => undefined,
    });
  } catch (e) {
    if (errnoCode(e) === 'ELOCKED') return null;
    throw new CheckpointError(`Could not lock ${mutexDir} (${errnoCode(e)}: ${String(e)}).`, { cause: e });
  }
  try {
    const now = await inspect(lockDir, options);
    if (now === null || now.verdict === 'live' || now.owner?.token !== seen.owner?.token) return null;
    if (!(await removeLockDir(lockDir, now.owner?.token))) return null;
    const taken = await tryAcquire(root, lockDir, options);
    if (taken !== null) {
      const ageS = Math.round((options.now() - now.heartbeatMs) / 1000);
      options.logger.warn(
        now.verdict === 'dead'
          ? `Took over the lock of ${options.displayName} from ${describeOwner(now.owner)}, which is no longer running.`
          : `Took over the lock of ${options.displayName} from ${describeOwner(now.owner)}, whose last heartbeat was ${ageS} s ago.`,
      );
    }
    return taken;
  } finally {
    await releaseMutex().catch(() => undefined);
  }
}
