import { spawn } from 'child_process';
import * as os from 'os';
import { isHolderDeadOnThisHost } from '../../src/checkpoint/lock_holder';

/**
 * A zombie: `sleep 0` run in the background by a shell that then becomes `sleep 10` (exec), which never
 * reaps it. Resolves with the zombie's pid once /proc shows it exited, and the parent to kill afterwards.
 */
async function zombie(): Promise<{ pid: number; parent: ReturnType<typeof spawn> }> {
  const parent = spawn('bash', ['-c', 'sleep 0 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve) => parent.stdout?.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim()))));
  const fs = await import('fs');
  for (let i = 0; i < 200 && !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid, parent };
}

describe('isHolderDeadOnThisHost', () => {
  it('takes a holder that exited but was not reaped yet (a zombie) for dead, a running one for alive', async () => {
    const { pid, parent } = await zombie();
    try {
      expect(isHolderDeadOnThisHost({ hostname: os.hostname(), pid, token: 'killed-job' })).toBe(true);
      expect(isHolderDeadOnThisHost({ hostname: os.hostname(), pid: parent.pid as number, token: 'running-job' })).toBe(false);
      // On another host nothing is known: its lock has to go stale.
      expect(isHolderDeadOnThisHost({ hostname: `${os.hostname()}-other`, pid, token: 'killed-job' })).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('takes this process for alive only under a token it holds', () => {
    expect(isHolderDeadOnThisHost({ hostname: os.hostname(), pid: process.pid, token: 'not-held-here' })).toBe(true);
  });
});
