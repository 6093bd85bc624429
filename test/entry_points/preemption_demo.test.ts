import { spawn } from 'child_process';
import * as path from 'path';

// `npm run demo` as a user runs it (the README's command, a real npm child): its interrupted runs (SIGKILL,
// SIGTERM) must print the same epoch lines as the run never interrupted, and end with identical weights.

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'demo', '--', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('npm run demo: the interrupted runs print the uninterrupted run\'s epoch lines, and the weights are identical', async () => {
  const { code, stdout, stderr } = await runDemo(['--seed', '1', '--epochs', '2', '--interruptions', '2']);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const epochLines = (tag: string): string[] =>
    [...stdout.matchAll(new RegExp(`^  \\[${tag}\\] (epoch \\d+/2 .*)$`, 'gm'))].map((m) => m[1]);
  const reference = epochLines('reference');
  expect(reference.map((line) => line.slice(0, 9))).toEqual(['epoch 1/2', 'epoch 2/2']);
  const interrupted = epochLines('run \\d+');
  // Each epoch is printed once by the start that finished it (again only if a kill lost its checkpoint).
  expect(new Set(interrupted)).toEqual(new Set(reference));
  expect(stdout).toMatch(/^identical epoch lines: 2 epochs$/m);
  expect(stdout).toMatch(/^identical: \d+ float32 weights, bit for bit, after 2 interruptions$/m);
}, 400_000);
