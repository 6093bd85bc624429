import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { restoreLatest, saveCheckpoint, listCheckpoints, verifyCheckpoints } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { checkpointModelHandler } from '../../src/checkpoint/checkpoint_manager';
import { CheckpointError } from '../../src/errors';
import { CaseTally, RecordingLogger, tempDir, tinyModel, train, weightBytes } from './helpers';

const tally = new CaseTally();
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => tally.print('checkpoint_manager'));

describe('save → restore → continue', () => {
  it('equals an uninterrupted Adam run bit for bit', () =>
    tally.run('resume equivalence', async () => {
      const straight = tinyModel();
      await train(straight, 0, 10);

      const dir = tempDir('resume');
      const first = tinyModel();
      await train(first, 0, 4);
      await saveCheckpoint(first, dir, { globalStep: 4, epoch: 1 });

      const resumed = tinyModel();
      const logger = new RecordingLogger();
      const restored = await restoreLatest(resumed, dir, { logger });
      expect(restored).toEqual({
        globalStep: 4,
        epoch: 1,
        path: 'model.ckpt-4',
        backend: 'cpu',
        fingerprint: { backend: 'cpu', tfjs: tf.version_core },
        extras: {},
      });
      expect(weightBytes(resumed)).toEqual(weightBytes(first));
      await train(resumed, 4, 10);
      expect(weightBytes(resumed)).toEqual(weightBytes(straight));
      expect(logger.warnings).toEqual([]);
    }));

  it('returns null for an empty or missing modelDir', () =>
    tally.run('resume equivalence', async () => {
      const dir = tempDir('empty');
      expect(await restoreLatest(tinyModel(), dir)).toBeNull();
      expect(await restoreLatest(tinyModel(), path.join(dir, 'missing'))).toBeNull();
    }));

  it('carries extras', () =>
    tally.run('resume equivalence', async () => {
      const dir = tempDir('extras');
      const model = tinyModel();
      await saveCheckpoint(model, dir, { globalStep: 7, epoch: 0, extras: { input: new Uint8Array([1, 2, 3]) } });
      const restored = await restoreLatest(tinyModel(), dir);
      expect(restored?.extras).toEqual({ input: new Uint8Array([1, 2, 3]) });
    }));
});

describe('tfjs format', () => {
  it('model.json + weights.bin load with tf.loadLayersModel', () =>
    tally.run('tfjs format', async () => {
      const dir = tempDir('tfjs');
      const model = tinyModel();
      await train(model, 0, 2);
      await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 });
      const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.ckpt-2', 'model.json'), 'utf8'));
      const weightsBin = fs.readFileSync(path.join(dir, 'model.ckpt-2', 'weights.bin'));
      expect(modelJson.format).toBe('layers-model');
      expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
      const loaded = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: modelJson.modelTopology,
          weightSpecs: modelJson.weightsManifest[0].weights,
          weightData: new Uint8Array(weightsBin).buffer,
        }),
      );
      expect(weightBytes(loaded)).toEqual(weightBytes(model));
      const viaHandler = await tf.loadLayersModel(checkpointModelHandler(new LocalCheckpointStorage(dir), 'model.ckpt-2'));
      expect(weightBytes(viaHandler)).toEqual(weightBytes(model));
    }));
});

describe('mismatch and retention', () => {
  it('refuses a checkpoint of other layer shapes before changing any weight', () =>
    tally.run('layer-shape mismatch', async () => {
      const dir = tempDir('shape');
      await saveCheckpoint(tinyModel(5), dir, { globalStep: 1, epoch: 0 });
      const other = tinyModel(6);
      const before = weightBytes(other);
      const err = await restoreLatest(other, dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^Checkpoint ${dir}/model\\.ckpt-1 does not fit layer ${other.layers[0].name}: weight ` +
            `${other.layers[0].name}/kernel is float32\\[4,6\\] in the model but the checkpoint's dense_Dense\\d+/kernel ` +
            `is float32\\[4,5\\]\\. Restore into the same architecture or use a new modelDir\\.$`,
        ),
      );
      expect(weightBytes(other)).toEqual(before);
    }));

  it('refuses to restore optimizer state into an uncompiled model', () =>
    tally.run('layer-shape mismatch', async () => {
      const dir = tempDir('uncompiled');
      await saveCheckpoint(tinyModel(), dir, { globalStep: 1, epoch: 0 });
      const bare = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
      await expect(restoreLatest(bare, dir)).rejects.toThrow(/holds Adam optimizer state but the model is not compiled: call model\.compile/);
    }));

  it('keeps exactly the newest N checkpoints', () =>
    tally.run('retention', async () => {
      const dir = tempDir('retention');
      const model = tinyModel();
      for (const step of [1, 2, 3, 4, 5]) await saveCheckpoint(model, dir, { globalStep: step, epoch: 0 }, { keepCheckpointMax: 3 });
      expect(fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort()).toEqual(['checkpoint', 'model.ckpt-3', 'model.ckpt-4', 'model.ckpt-5']);
      const index = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint'), 'utf8'));
      expect(index.latest).toBe('model.ckpt-5');
      expect(index.checkpoints).toEqual([3, 4, 5].map((s) => ({ step: s, path: `model.ckpt-${s}` })));
      const infos = await listCheckpoints(dir);
      expect(infos.map((i) => [i.step, i.status, i.latest, i.inIndex])).toEqual([[3, 'ok', false, true], [4, 'ok', false, true], [5, 'ok', true, true]]);
      const verified = await verifyCheckpoints(dir);
      expect(verified.every((i) => i.status === 'ok' && i.sizeBytes > 0)).toBe(true);
    }));
});
