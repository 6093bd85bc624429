/**
 * The Kubernetes example (the container command and environment of examples/kubernetes/job.yaml, read
 * from the file; only MODEL_DIR points into a temp dir) under a rolling restart, as real child processes:
 *
 * 1. job A trains; job B (the replacement pod) starts on the same modelDir with LOCK_WAIT_MS while A runs
 *    and must report that it waits for A's lock instead of failing;
 * 2. A gets SIGTERM mid-epoch (the scheduler's stop): it finishes the batch, saves, and exits with status
 *    143 (128 + 15) — the status a Job's restartPolicy reads as "killed, restart me";
 * 3. B then takes the lock, resumes from exactly A's final checkpoint and ends with the weights of an
 *    uninterrupted run, bit for bit.
 * Once with a local modelDir (the Job's PersistentVolume) and once with an s3:// modelDir on s3rver,
 * configured only by the AWS_* environment variables.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { s3EnvFor, startS3Server, type TestS3Server } from '../helpers/s3_server';

const ROOT = path.resolve(__dirname, '..', '..');
const STEPS_PER_EPOCH = Math.ceil(2000 / 32);

/** The container command and environment of examples/kubernetes/job.yaml, as written there. */
function jobSpec(): { command: string[]; env: Record<string, string> } {
  const yaml = fs.readFileSync(path.join(ROOT, 'examples', 'kubernetes', 'job.yaml'), 'utf8');
  const command = JSON.parse(/^ +command: (\[.*\])$/m.exec(yaml)?.[1] ?? 'null') as string[] | null;
  if (command === null) throw new Error('job.yaml has no container command');
  const env: Record<string, string> = {};
  // Only uncommented entries: "- name: X" followed by "value: ...".
  for (const m of yaml.matchAll(/^ +- name: (\w+)\n +value: "?([^"\n]*)"?$/gm)) env[m[1]] = m[2];
  return { command, env };
}
const JOB = jobSpec();
const EPOCHS = Number(JOB.env.EPOCHS);

/** A running trainer: its output so far, and a way to wait for a line or its end. */
interface Job {
  pid: number;
  stdout(): string;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  waitFor(pattern: RegExp, where: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(env: NodeJS.ProcessEnv): Job {
  const [program, ...args] = JOB.command;
  const child = spawn(program === 'node' ? process.execPath : program, args, {
    cwd: ROOT,
    env: { ...process.env, ...JOB.env, BACKEND: 'cpu', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  const waiters: Array<() => void> = [];
  const wake = (): void => waiters.splice(0).forEach((w) => w());
  child.stdout.setEncoding('utf8').on('data', (c: string) => ((out.stdout += c), wake()));
  child.stderr.setEncoding('utf8').on('data', (c: string) => ((out.stderr += c), wake()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => (resolve({ code, signal }), wake()));
  });
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    pid: child.pid as number,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    kill: (signal) => child.kill(signal),
    exited,
    waitFor: (pattern, where) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(out[where]);
          if (match !== null) return resolve(match);
          if (ended) return reject(new Error(`job ${child.pid} ended before ${pattern} appeared:\n${out.stdout}\n${out.stderr}`));
          waiters.push(check);
        };
        check();
      }),
  };
}

function lastSaved(stdout: string): number {
  const saves = [...stdout.matchAll(/^saved (\d+)$/gm)].map((m) => Number(m[1]));
  return saves[saves.length - 1];
}

let tmp: string;
let server: TestS3Server;
/** sha256 of the final weights of an uninterrupted run of the same job. */
let referenceSha: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'preemptible-job-'));
  server = await startS3Server('jobs');
  expect(JOB.command).toEqual(['node', '--require', 'tsx/cjs', 'examples/train_mnist.ts']);
  expect(JOB.env).toEqual({ MODEL_DIR: '/checkpoints/mnist-1', EPOCHS: '3', SAVE_STEPS: '20', LOCK_WAIT_MS: '180000' });
  const reference = start({ MODEL_DIR: path.join(tmp, 'uninterrupted') });
  referenceSha = (await reference.waitFor(/^done ([0-9a-f]{64})$/m, 'stdout'))[1];
  expect(await reference.exited).toEqual({ code: 0, signal: null });
}, 300_000);
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const modelDirs: Array<[string, () => { modelDir: string; env: NodeJS.ProcessEnv }]> = [
  ['a PersistentVolume path', () => ({ modelDir: path.join(tmp, 'job'), env: {} })],
  [
    'an s3:// modelDir (s3rver)',
    () => ({
      modelDir: 's3://jobs/runs/mnist-1',
      env: s3EnvFor(server),
    }),
  ],
];

it.each(modelDirs)(
  "rolling restart on %s: B waits for A's lock, A exits 143 on SIGTERM after its final save, B resumes from it bit for bit",
  async (_kind, where) => {
    const { modelDir, env } = where();
    const a = start({ ...env, MODEL_DIR: modelDir });
    await a.waitFor(/^step 1$/m, 'stdout');
    const b = start({ ...env, MODEL_DIR: modelDir });
    const waiting = await b.waitFor(/^Waiting for the lock on (.*) held by pid (\d+) on host (\S+) since (\S+) \(/m, 'stderr');
    expect([waiting[1], Number(waiting[2]), waiting[3]]).toEqual([modelDir, a.pid, os.hostname()]);

    a.kill('SIGTERM');
    const aEnd = await a.exited;
    const stepAtTerm = Number([...a.stdout().matchAll(/^step (\d+)$/gm)].pop()?.[1]);
    const finalSave = lastSaved(a.stdout());
    // eslint-disable-next-line no-console
    console.log(`${modelDir}: SIGTERM at step ${stepAtTerm} (epoch ${Math.floor(stepAtTerm / STEPS_PER_EPOCH) + 1}); A exited ${aEnd.code}; final save ${finalSave}`);
    expect(aEnd).toEqual({ code: 143, signal: null });
    expect(a.stderr()).toContain('PreemptionHook: stopped cleanly on SIGTERM and saved; exiting with code 143 so the job is restarted.');
    // The final save is the step the signal stopped at, not an earlier periodic one.
    expect(finalSave).toBe(stepAtTerm);
    expect(stepAtTerm).toBeLessThan(EPOCHS * STEPS_PER_EPOCH);

    const bDone = await b.waitFor(/^done ([0-9a-f]{64})$/m, 'stdout');
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(b.stderr()).toMatch(new RegExp(`^Took the lock on ${modelDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} after waiting \\d+\\.\\d s\\.$`, 'm'));
    expect(Number(/^resumed from step (\d+) /m.exec(b.stdout())?.[1])).toBe(finalSave);
    expect(bDone[1]).toBe(referenceSha);
  },
  600_000,
);
