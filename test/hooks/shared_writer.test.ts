/**
 * The README's way to run both checkpoint hooks on one writer (one worker thread): a user builds a
 * `CheckpointWriter`, passes it as `{ writer }` to `CheckpointSaverHook` and `CheckpointInputPipelineHook`, and
 * trains with `fitDataset`. Both series are written through it, the first hook to end does not close it under
 * the other, and a run stopped at step 7 and resumed in a fresh model and dataset ends with the weights of the
 * uninterrupted run, bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { CheckpointInputPipelineHook, CheckpointSaverHook, CheckpointWriter, HookCallback, StopAtStepHook, data, restoreLatest } from '../../src';
import { listCheckpoints } from '../../src/checkpoint/checkpoint_manager';
import { RecordingLogger, tempDir, weightBytes } from '../checkpoint/helpers';
import { smallDataset, smallModel } from '../helpers/small_fit';

beforeAll(() => tf.setBackend('cpu'));

const model = smallModel;
const dataset = (): data.CheckpointableDataset<tf.TensorContainer> => smallDataset('shared-writer');

it('one CheckpointWriter handed to both hooks writes both series; stopped at step 7 and resumed, the weights equal the uninterrupted run', async () => {
  const modelDir = tempDir('shared-writer');
  const logger = new RecordingLogger();
  const runWith = async (m: tf.LayersModel, ds: data.CheckpointableDataset<tf.TensorContainer>, epochs: number, start?: { globalStep: number; epoch: number }, lastStep?: number): Promise<number> => {
    const writer = new CheckpointWriter(modelDir, { logger });
    const hooks = [
      new CheckpointInputPipelineHook({ modelDir, config: { saveCheckpointsSteps: 3, keepCheckpointMax: 10 } }, { logger, writer }),
      new CheckpointSaverHook(modelDir, { saveSteps: 3, keepCheckpointMax: 10, logger, writer }),
      ...(lastStep !== undefined ? [new StopAtStepHook({ lastStep })] : []),
    ];
    const callback = new HookCallback(hooks, { dataset: ds, ...(start !== undefined ? start : {}) });
    await m.fitDataset(ds, { epochs, verbose: 0, callbacks: [callback] });
    expect(writer.busy).toBe(false);
    return callback.globalStep;
  };
  expect(await runWith(model(), dataset(), 3, undefined, 7)).toBe(7);

  const resumed = model();
  const restored = await restoreLatest(resumed, modelDir, { logger });
  expect([restored?.path, restored?.globalStep, restored?.epoch]).toEqual(['model.ckpt-7', 7, 1]);
  expect(await runWith(resumed, dataset(), 2, { globalStep: 7, epoch: 1 })).toBe(18);

  const reference = model();
  await reference.fitDataset(dataset(), { epochs: 3, verbose: 0 });
  expect(weightBytes(resumed)).toEqual(weightBytes(reference));
  expect(logger.warnings).toEqual([]);
  const indexed = (await listCheckpoints(modelDir)).filter((c) => c.inIndex).map((c) => c.step);
  expect(indexed).toEqual(expect.arrayContaining([7, 18]));
});
