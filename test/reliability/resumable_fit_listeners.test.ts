import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';
import { resumableFit } from '../../src/estimator/resumable_fit';
import { CheckpointSaverListener } from '../../src/hooks/checkpoint_saver_listener';
import type { TrainingSession } from '../../src/hooks/training_session';
import { listCheckpoints } from '../../src/checkpoint/checkpoint_manager';
import { RecordingLogger, tempDir, tinyModel } from '../checkpoint/helpers';
import { useTestBackend } from '../helpers/test_backend';

beforeAll(async () => {
  await useTestBackend();
});

/** Steps of the indexed checkpoints that verify. */
async function indexedSteps(modelDir: string): Promise<number[]> {
  return (await listCheckpoints(modelDir)).filter((c) => c.inIndex && c.status === 'ok').map((c) => c.step);
}

/** Records every save it is told about, and which checkpoints were on disk when `afterSave` ran. */
class RecordingListener extends CheckpointSaverListener {
  readonly events: string[] = [];
  constructor(private readonly modelDir: string) {
    super();
  }
  override beforeSave(_session: TrainingSession, globalStep: number): void {
    this.events.push(`before ${globalStep}`);
  }
  override async afterSave(_session: TrainingSession, globalStep: number): Promise<void> {
    this.events.push(`after ${globalStep}`);
    // The next save may already be indexed by the time this listing ends (the writer runs on): only this save's
    // own presence is owed.
    const onDisk = (await indexedSteps(this.modelDir)).includes(globalStep);
    this.events.push(`${globalStep} ${onDisk ? 'indexed' : 'NOT indexed'} at its afterSave`);
  }
}

it('resumableFit passes listeners to its CheckpointSaverHook: afterSave runs once the checkpoint is indexed', async () => {
  const modelDir = tempDir('fit-listeners');
  const listener = new RecordingListener(modelDir);
  // 10 examples in batches of 4: 3 steps per epoch, 2 epochs.
  const dataset = data
    .range(0, 10)
    .map((i) => ({ xs: tf.tensor1d([i, -i, i / 10, 1]), ys: tf.tensor1d([i % 2, 1]) }))
    .batch(4);
  const result = await resumableFit(tinyModel(), dataset, { epochs: 2, verbose: 0 }, {
    modelDir,
    saveSteps: 4,
    keepCheckpointMax: 2,
    listeners: [listener],
    preemption: false,
    logger: new RecordingLogger(),
  });
  expect(result.globalStep).toBe(6);
  // Saves at the first step, every 4 steps after it, and at the end; retention keeps the 2 newest. Writes
  // run in the background, so a save's afterSave may come after the next save's beforeSave.
  expect(listener.events.filter((e) => e.startsWith('before'))).toEqual(['before 1', 'before 5', 'before 6']);
  expect(listener.events.filter((e) => e.startsWith('after'))).toEqual(['after 1', 'after 5', 'after 6']);
  expect(listener.events.filter((e) => e.includes('at its afterSave'))).toEqual([
    '1 indexed at its afterSave',
    '5 indexed at its afterSave',
    '6 indexed at its afterSave',
  ]);
  expect(await indexedSteps(modelDir)).toEqual([5, 6]);
});
