/**
 * Only in `npm run test:tfjs-node`: a run continued under another TF_ENABLE_ONEDNN_OPTS warns, naming
 * oneDNN; continued under the same one it warns about nothing and ends bit for bit on the uninterrupted
 * run. Real child processes (test/fixtures/crash_child.ts on backend tensorflow), because TensorFlow reads
 * the variable once, when it starts. The first process trains epoch 1 of 3 and exits, so the resume point
 * (its final checkpoint, step 10) is certain; test/reliability/kill9.test.ts covers SIGKILLs at random points.
 */
import * as path from 'path';
import { CRASH_CONFIGS } from '../fixtures/crash_model';
import { runChild } from '../helpers/crash_harness';
import { tempDir } from '../checkpoint/helpers';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'crash_child.ts');
const CONFIG = CRASH_CONFIGS[2]; // one pass per epoch, a checkpoint every 3 steps
const FIRST_EPOCHS = 1;
const ONEDNN_ON = { TF_ENABLE_ONEDNN_OPTS: '1' };
const ONEDNN_OFF = { TF_ENABLE_ONEDNN_OPTS: '0' };

function args(modelDir: string, epochs = CONFIG.epochs): string[] {
  return [modelDir, `${modelDir}.bin`, '--epochs', String(epochs), '--save-steps', String(CONFIG.saveSteps)];
}

function sha(stdout: string): string {
  const match = /^done ([0-9a-f]{64})$/m.exec(stdout);
  if (match === null) throw new Error(`the child printed no "done" line:\n${stdout}`);
  return match[1];
}

function resumedStep(stdout: string): number {
  const match = /^resumed (\d+)$/m.exec(stdout);
  if (match === null) throw new Error(`the child did not resume:\n${stdout}`);
  return Number(match[1]);
}

/** Trains epoch 1 of 3 with oneDNN on, then continues to the end in a new process under `resumeEnv`. */
async function stopAndResume(tag: string, resumeEnv: NodeJS.ProcessEnv) {
  const modelDir = tempDir(tag);
  const first = await runChild(CHILD, args(modelDir, FIRST_EPOCHS), undefined, ONEDNN_ON);
  expect(first.code).toBe(0);
  const resumed = await runChild(CHILD, args(modelDir), undefined, resumeEnv);
  expect(resumed.code).toBe(0);
  return { modelDir, step: resumedStep(resumed.stdout), stderr: resumed.stderr, sha: sha(resumed.stdout) };
}

/** The checkpoint warnings a child printed (TensorFlow's own log lines left out). */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('Checkpoint '));
}

describe('oneDNN on → off between a stop and the resume', () => {
  const reference = runChild(CHILD, args(tempDir('onednn-ref')), undefined, ONEDNN_ON);

  it('resumed with oneDNN off: one warning naming oneDNN', async () => {
    const run = await stopAndResume('onednn-off', ONEDNN_OFF);
    expect(run.step).toBe(10);
    expect(warnings(run.stderr)).toEqual([
      `Checkpoint ${run.modelDir}/model.ckpt-${run.step} was written under another backend setup than this run's ` +
        '(oneDNN (TF_ENABLE_ONEDNN_OPTS) on → off): training continues correctly but not bit for bit like an ' +
        'uninterrupted run. Resume with the setup it was written under to get the same bits.',
    ]);
  }, 120_000);

  it('resumed with oneDNN on again: no warning, and the uninterrupted run’s weights bit for bit', async () => {
    const run = await stopAndResume('onednn-on', ONEDNN_ON);
    expect(warnings(run.stderr)).toEqual([]);
    expect(run.sha).toBe(sha((await reference).stdout));
  }, 120_000);
});
