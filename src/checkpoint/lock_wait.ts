import { CheckpointLockHeldError, InvalidArgumentError, type LockHolder } from '../errors';
import { consoleLogger, type CheckpointLogger } from './logger';
import type { CheckpointStorage } from './storage';

/** What `CheckpointStorage.lock()` hands back: the lock, held until it is released. */
export type { HeldLock } from './storage';
import type { HeldLock } from './storage';

/**
 * Default of every `lockWaitMs` option: do not wait, a second writer fails at once (the contract since
 * 0.1: a job started on a modelDir in use by mistake must not hang). Set it to the holder's shutdown
 * time (e.g. Kubernetes' `terminationGracePeriodSeconds`) where jobs overlap on purpose.
 */
export const DEFAULT_LOCK_WAIT_MS = 0;

/** How often a waiting job tries the lock again. */
const LOCK_POLL_MS = 500;
/** How often a waiting job repeats its progress line. */
const LOCK_REPORT_EVERY_MS = 10_000;

/** Options of {@link acquireCheckpointLock}. */
export interface LockWaitOptions {
  /**
   * How long to wait for a live holder to release the lock (or to go stale, after which it is taken over),
   * in ms. Default 0 (`DEFAULT_LOCK_WAIT_MS`: fail at once with `CheckpointLockHeldError`).
   */
  lockWaitMs?: number;
  /** Where the "waiting for the lock" progress lines go. Default `console.warn`. */
  logger?: CheckpointLogger;
  /** Clock of the wait (ms); injectable for tests. Default `Date.now`. */
  now?: () => number;
  /** Pause between attempts; injectable for tests. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** Checks a `lockWaitMs` option value; `name` is the option as the caller spelled it. */
export function checkLockWaitMs(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds >= 0 (0: do not wait), got ${value}.`);
  }
}

function describeHolder(holder: LockHolder | undefined): string {
  return holder === undefined
    ? 'an unknown process'
    : `pid ${holder.pid} on host ${holder.hostname} since ${new Date(holder.sinceMs).toISOString()}`;
}

function sameHolder(a: LockHolder | undefined, b: LockHolder | undefined): boolean {
  return a?.pid === b?.pid && a?.hostname === b?.hostname && a?.sinceMs === b?.sinceMs;
}

/**
 * Takes the writer lock of `storage`, waiting up to `lockWaitMs` while another live writer holds it: a
 * rolling restart starts the new job while the old one is still writing its final checkpoint, and the
 * new one must resume from that checkpoint rather than fail. Every attempt is a plain `storage.lock()`,
 * so a holder that dies meanwhile is taken over as that storage rules (at once on this host, once its
 * heartbeat is stale elsewhere). Reports the wait when it starts, every 10 s, and when the holder changes.
 * @throws CheckpointLockHeldError when the lock is still held after `lockWaitMs` (at once with 0);
 *   any other error of `storage.lock()` as it is.
 */
export async function acquireCheckpointLock(storage: CheckpointStorage, options: LockWaitOptions = {}): Promise<HeldLock> {
  checkLockWaitMs(options.lockWaitMs, 'lockWaitMs');
  const waitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  const logger = options.logger ?? consoleLogger;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const startMs = now();
  let reportedHolder: LockHolder | undefined;
  let reportedAtMs: number | undefined;
  for (;;) {
    try {
      const lock = await storage.lock();
      if (reportedAtMs !== undefined) {
        logger.warn(`Took the lock on ${storage.location} after waiting ${((now() - startMs) / 1000).toFixed(1)} s.`);
      }
      return lock;
    } catch (e) {
      if (!(e instanceof CheckpointLockHeldError) || waitMs === 0) throw e;
      const waitedMs = now() - startMs;
      if (waitedMs >= waitMs) {
        throw new CheckpointLockHeldError(
          `Waited ${(waitedMs / 1000).toFixed(1)} s (lockWaitMs ${waitMs}) for the lock on ${storage.location}, ` +
            `still held by ${describeHolder(e.holder)}. Stop that job, or raise lockWaitMs above the time it needs ` +
            `to finish its final save. ${e.message}`,
          e.holder,
          { cause: e },
        );
      }
      if (reportedAtMs === undefined || !sameHolder(reportedHolder, e.holder) || now() - reportedAtMs >= LOCK_REPORT_EVERY_MS) {
        logger.warn(
          `Waiting for the lock on ${storage.location} held by ${describeHolder(e.holder)} ` +
            `(waited ${Math.round(waitedMs / 1000)} s of at most ${Math.round(waitMs / 1000)} s).`,
        );
        reportedHolder = e.holder;
        reportedAtMs = now();
      }
      await sleep(Math.min(LOCK_POLL_MS, waitMs - waitedMs));
    }
  }
}
