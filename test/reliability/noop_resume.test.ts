import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { MODEL_CHECKPOINT_PREFIX, MODEL_INDEX_NAME } from '../../src/checkpoint/model_checkpoint';
import type { CheckpointStorage } from '../../src/checkpoint/storage';
import { resumableFit } from '../../src/estimator/resumable_fit';
import { RecordingLogger, tempDir, tinyModel, weightBytes } from '../checkpoint/helpers';
import { useTestBackend } from '../helpers/test_backend';

beforeAll(async () => {
  await useTestBackend();
});

/** The storage, recording the steps the index names after every write that touches the modelDir. */
function recordingIndexes(inner: CheckpointStorage, seen: number[][]): CheckpointStorage {
  const record = async (): Promise<void> => {
    seen.push(((await readIndex(inner, MODEL_INDEX_NAME, MODEL_CHECKPOINT_PREFIX)) ?? []).map((e) => e.step));
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'writeAtomic') {
        return async (relPath: string, bytes: Uint8Array) => {
          await target.writeAtomic(relPath, bytes);
          await record();
        };
      }
      if (prop === 'delete') {
        return async (relPath: string) => {
          await target.delete(relPath);
          await record();
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function dataset(): data.CheckpointableDataset<tf.TensorContainer> {
  return data
    .range(0, 12)
    .map((i) => ({ xs: tf.tensor1d([Math.sin(i), i / 12, (i % 3) / 3, 1]), ys: tf.tensor1d([Math.cos(i), i % 2]) }))
    .shuffle(6, 'noop')
    .batch(4);
}

// A kill -9 at any moment of such a start must not lose the finished run's acknowledged last checkpoint: the
// re-save of an unchanged step unlisted it from the index while its files were rewritten.
it('starting a finished run again (nothing left to train) rewrites nothing, so its last checkpoint stays listed', async () => {
  const modelDir = tempDir('noop-resume');
  const options = { saveSteps: 2, keepCheckpointMax: 2, preemption: false as const, logger: new RecordingLogger() };
  const finished = tinyModel();
  const first = await resumableFit(finished, dataset(), { epochs: 2, verbose: 0 }, { modelDir, ...options });
  expect(first.globalStep).toBe(6);

  const seen: number[][] = [];
  const again = tinyModel();
  const second = await resumableFit(again, dataset(), { epochs: 2, verbose: 0 }, {
    modelDir: recordingIndexes(await LocalCheckpointStorage.open(modelDir), seen),
    ...options,
  });
  expect([second.restoredFrom?.globalStep, second.globalStep, second.completed]).toEqual([6, 6, true]);
  expect(weightBytes(again)).toEqual(weightBytes(finished));
  // Every write or delete would have been recorded with the steps the index named right after it.
  expect(seen).toEqual([]);
});
