/**
 * Only in `npm run test:tfjs-node`: the backend choice and the checkpoint fingerprint where
 * @tensorflow/tfjs-node loads.
 */
import * as tf from '@tensorflow/tfjs';
import { useFastestBackend } from '../../src/backend';
import { restoreLatest, saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { readCheckpointState } from '../../src/checkpoint/model_checkpoint';
import { RecordingLogger, tempDir, tinyModel, train, weightBytes } from '../checkpoint/helpers';
import { useTestBackend } from '../helpers/test_backend';

/** What tfjs-node reports about itself, read from its own objects rather than through our code. */
const tfjsNode = require('@tensorflow/tfjs-node') as { version: Record<string, string> };

function tensorflowVersion(): string {
  return (tf.backend() as unknown as { binding: { TF_Version: string } }).binding.TF_Version;
}

afterEach(async () => {
  await useTestBackend();
});

describe('on a machine with @tensorflow/tfjs-node', () => {
  it('the suite runs on tensorflow, and useFastestBackend takes it when asked for it first', async () => {
    expect(tf.getBackend()).toBe('tensorflow');
    await tf.setBackend('cpu');
    expect(await useFastestBackend({ candidates: ['tensorflow', 'cpu'] })).toEqual({ backend: 'tensorflow', skipped: [] });
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('a checkpoint records tfjs, tfjs-node, TensorFlow and the oneDNN setting', async () => {
    const dir = tempDir('fp-tensorflow');
    await saveCheckpoint(tinyModel(), dir, { globalStep: 1, epoch: 0 });
    const state = await readCheckpointState(await LocalCheckpointStorage.open(dir), 'model.ckpt-1');
    const expectedOneDnn = ['0', 'false'].includes(process.env.TF_ENABLE_ONEDNN_OPTS?.toLowerCase() ?? '') ? 'off' : 'on';
    expect(state.fingerprint).toEqual({
      backend: 'tensorflow',
      tfjs: tf.version_core,
      tfjsNode: tfjsNode.version['tfjs-node'],
      tensorflow: tensorflowVersion(),
      oneDnn: expectedOneDnn,
    });
  });

  it('written on tensorflow, resumed on wasm (and back): warned, naming the backends; weights intact', async () => {
    require('@tensorflow/tfjs-backend-wasm');
    const dir = tempDir('fp-tf-wasm');
    const written = tinyModel();
    await train(written, 0, 3);
    await saveCheckpoint(written, dir, { globalStep: 3, epoch: 0 });
    const bits = weightBytes(written);

    await tf.setBackend('wasm');
    const onWasm = new RecordingLogger();
    const resumed = tinyModel();
    await restoreLatest(resumed, dir, { logger: onWasm });
    expect(weightBytes(resumed)).toEqual(bits);
    expect(onWasm.warnings).toEqual([
      `Checkpoint ${dir}/model.ckpt-3 was written under another backend setup than this run's (backend tensorflow → wasm): ` +
        'training continues correctly but not bit for bit like an uninterrupted run. ' +
        'Resume with the setup it was written under to get the same bits.',
    ]);
    await train(resumed, 3, 4);
    await saveCheckpoint(resumed, dir, { globalStep: 4, epoch: 0 });

    await tf.setBackend('tensorflow');
    const onTensorflow = new RecordingLogger();
    await restoreLatest(tinyModel(), dir, { logger: onTensorflow });
    expect(onTensorflow.warnings).toEqual([
      `Checkpoint ${dir}/model.ckpt-4 was written under another backend setup than this run's (backend wasm → tensorflow): ` +
        'training continues correctly but not bit for bit like an uninterrupted run. ' +
        'Resume with the setup it was written under to get the same bits.',
    ]);
  });
});
