/**
 * Fencing, for real: job A (test/fixtures/fencing_child.ts) holds the modelDir's lock and saves every step;
 * it is SIGSTOPped past the lock's stale time, job B takes the lock over, resumes from A's newest checkpoint,
 * saves and finishes; then A is SIGCONTed. A must acknowledge nothing after the takeover, stop with
 * `CheckpointLockError`, and the index and the latest checkpoint must be B's.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { openStorage } from '../../src/checkpoint/open_storage';
import { numbersOf } from '../helpers/crash_child_io';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'fencing_child.ts');
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Small, so a stopped holder loses its lock within the test; its heartbeat runs every third of it. */
const LOCK_STALE_MS = 1500;

interface Child {
  process: ChildProcessWithoutNullStreams;
  stdout: () => string;
  exited: Promise<number | null>;
}

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), CHILD, ...args], { cwd: REPO_ROOT });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { process: child, stdout: () => stdout, exited };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('fencing: a writer suspended past its lock stale time', () => {
  it('acknowledges nothing after the takeover, exits with CheckpointLockError, and the index is the new owner\'s (local dir)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-fencing-'));
    const a = startChild([dir, String(LOCK_STALE_MS), '0']);
    await waitFor('job A to save 3 checkpoints', () => numbersOf('saved', a.stdout()).length >= 3);
    a.process.kill('SIGSTOP');
    const stoppedOut = a.stdout();
    const ackedBeforeStop = numbersOf('saved', stoppedOut);
    // B waits (lockWaitMs) until A's heartbeat is stale, takes the lock over, and trains 5 steps past A's checkpoint.
    const b = startChild([dir, String(LOCK_STALE_MS), '60000', '5']);
    expect(await b.exited).toBe(0);
    const resumedAt = Number(/^resumed (\d+)$/m.exec(b.stdout())?.[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(Math.max(...ackedBeforeStop));
    const bSaved = numbersOf('saved', b.stdout());
    expect(bSaved[bSaved.length - 1]).toBe(resumedAt + 5);
    a.process.kill('SIGCONT');
    expect(await a.exited).toBe(3);
    const after = a.stdout().slice(stoppedOut.length);
    // Whatever A acknowledges after SIGCONT was durable before it was stopped (B resumed from it or later).
    for (const step of numbersOf('saved', after)) expect(step).toBeLessThanOrEqual(resumedAt);
    expect(after).toMatch(/^error CheckpointLockError This job lost the writer lock of .*: it is now held by /m);
    const index = await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt');
    const steps = (index ?? []).map((e) => e.step);
    expect(steps[steps.length - 1]).toBe(resumedAt + 5);
    // Every entry past A's checkpoint is one of B's saves.
    expect(steps.filter((s) => s > resumedAt)).toEqual(bSaved.filter((s) => s > resumedAt));
    expect(ackedBeforeStop.length).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
