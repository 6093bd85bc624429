import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { restoreLatest } from '../../src/checkpoint/checkpoint_manager';
import { RecordingLogger, tempDir } from '../checkpoint/helpers';

// Issue 14: a second SIGTERM 20–40 ms after the first used to kill the process during the final save, losing the
// preemption checkpoint. A real child process gets both signals; the second lands inside the final save.

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('for real: a second SIGTERM during the final save is ignored, the checkpoint is written and the exit is 143', async () => {
  const root = path.resolve(__dirname, '../..');
  const modelDir = tempDir('second-signal');
  const child = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(__dirname, 'fixtures/second_signal_child.ts'), modelDir],
    { cwd: root, encoding: 'utf8', timeout: 120000 },
  );
  // Killed by the second signal, the child would end with signal SIGTERM and never print `saved 2`.
  expect([child.signal, child.status]).toEqual([null, 143]);
  expect(child.stdout.split('\n').filter((l) => /^(saved|final save) /.test(l))).toEqual(['saved 1', 'final save 2 begins', 'saved 2']);
  expect(child.stderr).toContain('PreemptionHook: received SIGTERM again while stopping; ignored, finishing the current batch.');
  const probe = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  probe.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  expect((await restoreLatest(probe, modelDir, { logger: new RecordingLogger() }))?.globalStep).toBe(2);
}, 180_000);
