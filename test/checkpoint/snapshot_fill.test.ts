import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointWriter } from '../../src/checkpoint/checkpoint_writer';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { readModelCheckpoint, writerFingerprint } from '../../src/checkpoint/model_checkpoint';
import { type PendingSnapshot, applySnapshot, prepareSnapshot } from '../../src/checkpoint/model_snapshot';
import { openStorage } from '../../src/checkpoint/open_storage';
import { abortFill, advanceFill, awaitFilled, createFill } from '../../src/checkpoint/snapshot_fill';
import { CheckpointError } from '../../src/errors';
import { tempDir } from './helpers';

/** Blocks this thread (the training thread) for `ms`, as a long copy would. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** ~1.2M parameters with Adam: ~15 MB of snapshot, so the copy reports progress several times per buffer. */
function largeModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [1024], units: 1200, kernelInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 3 }) }));
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  return model;
}

/** Every weight's bytes, one Buffer each (compared with `equals`: millions of elements). */
function weightBuffers(model: tf.LayersModel): Buffer[] {
  return model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer));
}

function sameBits(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((buffer, i) => buffer.equals(b[i]));
}

async function trainLarge(model: tf.LayersModel, steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) {
    const [xs, ys] = [tf.randomUniform([4, 1024], -1, 1, 'float32', 10 + i), tf.randomUniform([4, 1200], -1, 1, 'float32', 20 + i)];
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
  }
}

describe('SnapshotFill', () => {
  it('awaitFilled resolves only once the bytes it needs are copied, and at once for bytes already copied', async () => {
    const buffer = new SharedArrayBuffer(64);
    const fill = createFill([buffer]);
    if (fill === undefined) throw new Error('a SharedArrayBuffer must get a fill');
    const view = new Uint8Array(buffer, 16, 32);
    const order: string[] = [];
    const waiting = awaitFilled(fill, view, 8).then(() => order.push('bytes 16..24 ready'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    advanceFill(fill, 0, 20);
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push('copied 20');
    advanceFill(fill, 0, 24);
    await waiting;
    expect(order).toEqual(['copied 20', 'bytes 16..24 ready']);
    await expect(awaitFilled(fill, view, 8)).resolves.toBeUndefined();
    // Memory that is not shared (model.json, extras) is never waited for.
    await expect(awaitFilled(fill, new Uint8Array(8), 8)).resolves.toBeUndefined();
  });

  it('a copy that failed fails the waiting writer; shared memory not in the fill is refused', async () => {
    const buffer = new SharedArrayBuffer(16);
    const fill = createFill([buffer]);
    if (fill === undefined) throw new Error('a SharedArrayBuffer must get a fill');
    const waiting = awaitFilled(fill, new Uint8Array(buffer), 16);
    abortFill(fill);
    await expect(waiting).rejects.toThrow(
      new CheckpointError('The snapshot of this checkpoint could not be copied on the training thread; nothing was written.'),
    );
    await expect(awaitFilled(fill, new Uint8Array(new SharedArrayBuffer(8)), 8)).rejects.toThrow(
      new CheckpointError('A checkpoint file refers to shared memory that is not its snapshot being copied; nothing was written.'),
    );
    expect(createFill([new ArrayBuffer(8)])).toBeUndefined();
  });
});

describe('CheckpointWriter.submitSnapshot', () => {
  it('posts the job before the copy: the worker writes what the copy fills, bit for bit, however late the copy is', async () => {
    const dir = tempDir('submit-snapshot');
    const writer = new CheckpointWriter(dir);
    await writer.open();
    expect(writer.inWorker).toBe(true);
    const model = largeModel();
    const saved: Buffer[][] = [];
    for (const step of [1, 2]) {
      await trainLarge(model, 1);
      saved.push(weightBuffers(model));
      const pending = await prepareSnapshot(model, writer.snapshotBuffers);
      expect(pending.fill).toBeDefined();
      // The worker has the job 300 ms before any byte is copied: without waiting it would write zeros
      // (step 1's fresh buffers) or step 1's values (step 2 reuses step 1's buffers).
      const late: PendingSnapshot = { ...pending, copy: () => (blockFor(300), pending.copy()) };
      const meta = { globalStep: step, epoch: 0 };
      await expect(writer.submitSnapshot(late, { meta: { ...meta, fingerprint: writerFingerprint(meta) }, keepCheckpointMax: 5 })).resolves.toBe('written');
    }
    await writer.close();
    const storage = openStorage(dir);
    for (const step of [1, 2]) {
      const restored = largeModel();
      const loaded = await readModelCheckpoint(storage, `model.ckpt-${step}`, step);
      await applySnapshot(restored, loaded.weights, loaded.optimizer);
      expect(sameBits(weightBuffers(restored), saved[step - 1])).toBe(true);
      restored.dispose();
    }
    model.dispose();
  }, 60000);

  it('a copy that throws fails its save (nothing is marked latest) and the writer goes on with the next save', async () => {
    const dir = tempDir('submit-snapshot-abort');
    const writer = new CheckpointWriter(dir);
    await writer.open();
    const doomed = largeModel();
    await trainLarge(doomed, 1);
    const pending = await prepareSnapshot(doomed, writer.snapshotBuffers);
    doomed.dispose();
    const meta = { globalStep: 1, epoch: 0 };
    expect(() => writer.submitSnapshot(pending, { meta: { ...meta, fingerprint: writerFingerprint(meta) }, keepCheckpointMax: 5 })).toThrow(
      'Tensor is disposed.',
    );
    await writer.drain();
    expect(() => writer.throwIfFailed()).not.toThrow();
    expect(await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt')).toBeNull();

    const model = largeModel();
    await trainLarge(model, 2);
    const next = await prepareSnapshot(model, writer.snapshotBuffers);
    const meta2 = { globalStep: 2, epoch: 0 };
    await expect(writer.submitSnapshot(next, { meta: { ...meta2, fingerprint: writerFingerprint(meta2) }, keepCheckpointMax: 5 })).resolves.toBe('written');
    await writer.close();
    expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([2]);
    // The failed save wrote no file: at most its empty directory is left (removed as an orphan by a later save).
    expect(fs.existsSync(path.join(dir, 'model.ckpt-1')) ? fs.readdirSync(path.join(dir, 'model.ckpt-1')) : []).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'model.ckpt-2', 'state.json'))).toBe(true);
    model.dispose();
  }, 60000);
});
