import * as fs from 'fs';
import * as os from 'os';

/**
 * Lock tokens this process holds right now, on any storage. A lock record naming this process's pid
 * with a token not in here was written by an earlier process that had the same pid (pid 1 of a
 * restarted container, a recycled pid), so it is dead.
 */
const heldTokens = new Set<string>();

/** Records that this process holds the lock with `token` (until {@link forgetHeldToken}). */
export function rememberHeldToken(token: string): void {
  heldTokens.add(token);
}

/** Records that this process released (or lost) the lock with `token`. */
export function forgetHeldToken(token: string): void {
  heldTokens.delete(token);
}

/**
 * Whether the writer that left a lock is known to be dead: it ran on this host and its process is gone.
 * A holder on another host is never known dead here (its lock goes stale instead). Shared by the local
 * and the S3 lock, so a job restarted on the same machine after kill -9 takes over at once on both.
 */
export function isHolderDeadOnThisHost(holder: { hostname: string; pid: number; token: string }): boolean {
  if (holder.hostname !== os.hostname()) return false;
  if (holder.pid === process.pid) return !heldTokens.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    // EPERM: the process exists under another user.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return isZombie(holder.pid);
}

/**
 * Whether `pid` has exited but not been reaped yet (Linux: state `Z` or `X` in /proc/<pid>/stat). A job
 * killed with its process group stays a zombie until an init process that may reap lazily collects it;
 * `kill(pid, 0)` still succeeds then, but nothing of it runs any more. False where /proc is unavailable.
 */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) state ...": comm may contain spaces and parentheses, the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}
