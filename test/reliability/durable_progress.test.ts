import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';
import { resumableFit } from '../../src/estimator/resumable_fit';
import { CheckpointSaverListener } from '../../src/hooks/checkpoint_saver_listener';
import type { TrainingSession } from '../../src/hooks/training_session';
import { RecordingLogger, tempDir, tinyModel } from '../checkpoint/helpers';
import { useTestBackend } from '../helpers/test_backend';

beforeAll(async () => {
  await useTestBackend();
});

/** Records, for every durable save, the global step training had reached when it became durable. */
class DurabilityListener extends CheckpointSaverListener {
  readonly durableAt: Array<{ saved: number; trainingAt: number }> = [];
  override afterSave(session: TrainingSession, globalStep: number): void {
    this.durableAt.push({ saved: globalStep, trainingAt: session.globalStep });
  }
}

// fitDataset never yields to the event loop by itself: background checkpoint writes used to complete only
// after training ended, so a kill -9 at any step lost every checkpoint of the run.
it('checkpoints become durable while training runs, not only at the end', async () => {
  const listener = new DurabilityListener();
  // 64 examples in batches of 4: 16 steps per epoch, 12 epochs; a save is due at every step.
  const totalSteps = 192;
  const dataset = data
    .range(0, 64)
    .map((i) => ({ xs: tf.tensor1d([Math.sin(i), i / 64, (i % 3) / 3, 1]), ys: tf.tensor1d([Math.cos(i), i % 2]) }))
    .shuffle(8, 'durable')
    .batch(4);
  const result = await resumableFit(tinyModel(), dataset, { epochs: 12, verbose: 0 }, {
    modelDir: tempDir('durable'),
    saveSteps: 1,
    keepCheckpointMax: 2,
    listeners: [listener],
    preemption: false,
    logger: new RecordingLogger(),
  });
  expect(result.globalStep).toBe(totalSteps);
  const saved = listener.durableAt.map((d) => d.saved);
  // Saves the disk cannot keep up with are skipped (a newer snapshot replaces a waiting one), in order.
  expect(saved).toEqual([...saved].sort((a, b) => a - b));
  expect([saved[0], listener.durableAt[listener.durableAt.length - 1]]).toEqual([1, { saved: totalSteps, trainingAt: totalSteps }]);
  // The first checkpoint was on disk long before the last step (a write takes ~10–100 ms, a step ~3 ms).
  expect(listener.durableAt[0].trainingAt).toBeLessThan(totalSteps / 2);
});
