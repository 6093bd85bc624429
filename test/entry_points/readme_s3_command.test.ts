/**
 * The README's "Resuming on a new machine" command, run as written: its `npx tsx ...` line is read from
 * the README and run in a shell, with the environment variables the README tells the user to export
 * pointing at s3rver on 127.0.0.1 (bucket `my-bucket`, as in the command). The job is SIGKILLed
 * mid-epoch (its whole process group, as a VM loss would), started again with the same command, and
 * must finish with the weights of an uninterrupted local run, bit for bit — with every checkpoint on the
 * S3 server and none on the local disk.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { S3CheckpointStorage } from '../../src';
import { s3EnvFor, startS3Server, type TestS3Server } from '../helpers/s3_server';

const ROOT = path.resolve(__dirname, '..', '..');

function readmeS3Command(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Resuming on a new machine'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const command = block.split('\n').find((line) => line.startsWith('npx tsx '));
  if (command === undefined) throw new Error('the README S3 section has no "npx tsx ..." command line');
  return command;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` in bash in its own process group; SIGKILLs the group once `killAfterStep` is printed. */
function run(command: string, env: NodeJS.ProcessEnv, cwd: string, killAfterStep?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (killAfterStep !== undefined && new RegExp(`^step ${killAfterStep}$`, 'm').test(stdout)) {
        process.kill(-(child.pid as number), 'SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function sha(out: string): string | undefined {
  return /^done ([0-9a-f]{64})$/m.exec(out)?.[1];
}

let server: TestS3Server;
beforeAll(async () => {
  server = await startS3Server('my-bucket');
});
afterAll(async () => {
  await server.stop();
});

it('the README S3 command, SIGKILLed mid-epoch and run again, equals an uninterrupted local run bit for bit', async () => {
  const command = readmeS3Command();
  expect(command).toBe('npx tsx examples/train_mnist.ts --model-dir s3://my-bucket/runs/mnist-1');
  const env = { ...process.env, ...s3EnvFor(server) };
  const before = fs.readdirSync(ROOT).sort();
  // 63 steps per epoch: step 90 is mid-epoch 2; a save every 20 steps has made step 80 or 60 durable.
  const killed = await run(command, env, ROOT, 90);
  expect(killed.signal ?? 'exit ' + killed.code).toBe('SIGKILL');
  const resumed = await run(command, env, ROOT);
  expect([resumed.code, resumed.stderr.includes('Error')]).toEqual([0, false]);
  const from = Number(/^resumed from step (\d+)/m.exec(resumed.stdout)?.[1]);
  expect(from).toBeGreaterThanOrEqual(20);
  expect(from).toBeLessThanOrEqual(90);

  const localDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-readme-ref-'));
  const reference = await run(`npx tsx examples/train_mnist.ts --model-dir ${localDir}`, env, ROOT);
  fs.rmSync(localDir, { recursive: true, force: true });
  expect(sha(reference.stdout)).toMatch(/^[0-9a-f]{64}$/);
  expect(sha(resumed.stdout)).toBe(sha(reference.stdout));

  const storage = new S3CheckpointStorage('s3://my-bucket/runs/mnist-1', { endpoint: server.endpoint, credentials: server.credentials });
  try {
    const objects = await storage.list('');
    expect(objects).toEqual(expect.arrayContaining(['checkpoint', 'model.ckpt-189/state.json']));
  } finally {
    storage.destroy();
  }
  // Nothing landed in the project folder (0.1.0 created ./s3:/my-bucket/... here).
  expect(fs.readdirSync(ROOT).sort()).toEqual(before);
}, 240_000);
