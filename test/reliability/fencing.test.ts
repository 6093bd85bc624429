/**
 * Fencing, for real: job A (test/fixtures/fencing_child.ts) holds the modelDir's lock and saves every step;
 * it is SIGSTOPped past the lock's stale time (`TFJS_RESUMABLE_LOCK_STALE_MS`, small here), job B takes the
 * lock over, resumes from A's newest checkpoint, saves 5 steps and finishes; then A is SIGCONTed. A must
 * acknowledge nothing after the takeover, stop with `CheckpointLockError`, and the index and the latest
 * checkpoint must be B's. With a local directory and with an `s3://` modelDir on s3rver.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { LOCK_STALE_MS_ENV } from '../../src/checkpoint/lock_stale_env';
import { closeStorage, openStorage } from '../../src/checkpoint/open_storage';
import { numbersOf } from '../helpers/crash_child_io';
import { setProcessEnv, s3EnvFor, startS3Server, type TestS3Server } from '../helpers/s3_server';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'fencing_child.ts');
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Small, so a stopped holder loses its lock within the test; its heartbeat runs every third of it. */
const LOCK_STALE_MS = 1500;
const B_STEPS = 5;

interface Child {
  process: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), CHILD, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, [LOCK_STALE_MS_ENV]: String(LOCK_STALE_MS) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The child's exit status, or a failure showing its output when it has not exited within `timeoutMs`. */
async function exitOf(name: string, child: Child, timeoutMs = 120_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name} did not exit within ${timeoutMs} ms; stdout:\n${child.stdout().slice(-3000)}\nstderr:\n${child.stderr().slice(-3000)}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([child.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function indexedSteps(modelDir: string): Promise<number[]> {
  const storage = openStorage(modelDir);
  try {
    return ((await readIndex(storage, 'checkpoint', 'model.ckpt')) ?? []).map((e) => e.step);
  } finally {
    closeStorage(storage);
  }
}

async function suspendTakeOverResume(modelDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const a = startChild([modelDir, '0'], env);
  try {
    await waitFor('job A to save 3 checkpoints', () => numbersOf('saved', a.stdout()).length >= 3);
    a.process.kill('SIGSTOP');
    const stoppedOut = a.stdout();
    const ackedBeforeStop = numbersOf('saved', stoppedOut);
    // B waits (lockWaitMs) until A's heartbeat is stale, takes the lock over, and trains B_STEPS past A's checkpoint.
    const b = startChild([modelDir, '60000', String(B_STEPS)], env);
    const bCode = await exitOf('job B', b);
    if (bCode !== 0) throw new Error(`job B exited with ${bCode}:\n${b.stdout().slice(-2000)}\n${b.stderr().slice(-2000)}`);
    const resumedAt = Number(/^resumed (\d+)$/m.exec(b.stdout())?.[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(Math.max(...ackedBeforeStop));
    const bSaved = numbersOf('saved', b.stdout());
    expect(bSaved[bSaved.length - 1]).toBe(resumedAt + B_STEPS);

    a.process.kill('SIGCONT');
    expect(await exitOf('job A after SIGCONT', a)).toBe(3);
    const after = a.stdout().slice(stoppedOut.length);
    // Whatever A acknowledges after SIGCONT was durable before it was stopped (B resumed from it or later).
    for (const step of numbersOf('saved', after)) expect(step).toBeLessThanOrEqual(resumedAt);
    expect(after).toMatch(/^error CheckpointLockError This job lost the writer lock .*: it is now held by /m);

    const steps = await indexedSteps(modelDir);
    expect(steps[steps.length - 1]).toBe(resumedAt + B_STEPS);
    // Every entry past A's checkpoint is one of B's saves, and all of B's saves are there.
    expect(steps.filter((s) => s > resumedAt)).toEqual(bSaved.filter((s) => s > resumedAt));
  } finally {
    a.process.kill('SIGCONT');
    a.process.kill('SIGKILL');
  }
}

describe('fencing: a writer suspended past its lock stale time', () => {
  it('local dir: acknowledges nothing after the takeover, exits with CheckpointLockError, the index is the new owner\'s', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-fencing-'));
    await suspendTakeOverResume(dir, {});
    fs.rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  describe('s3:// modelDir on s3rver', () => {
    let server: TestS3Server | undefined;
    let s3Env: NodeJS.ProcessEnv = {};
    let restoreEnv: (() => void) | undefined;
    beforeAll(async () => {
      server = await startS3Server();
      s3Env = s3EnvFor(server);
      // The parent reads the index through the same s3:// string, so with the same variables.
      restoreEnv = setProcessEnv(s3Env);
    });
    afterAll(async () => {
      restoreEnv?.();
      await server?.stop();
    });

    it('acknowledges nothing after the takeover, exits with CheckpointLockError, the index is the new owner\'s', async () => {
      await suspendTakeOverResume(`s3://${(server as TestS3Server).bucket}/fencing`, s3Env);
    }, 300_000);
  });
});
