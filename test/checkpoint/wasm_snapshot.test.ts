import * as tf from '@tensorflow/tfjs';
import { useFastestBackend } from '../../src/backend';
import { restoreLatest, saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { snapshotModel } from '../../src/checkpoint/model_snapshot';
import { tempDir, tinyModel, train } from './helpers';

/** Bytes of every tensor, in order: weights, then the optimizer's weights. */
async function stateBytes(model: tf.LayersModel): Promise<Buffer[]> {
  const optimizer = await (model.optimizer as tf.Optimizer).getWeights();
  return [...model.getWeights(), ...optimizer.map((w) => w.tensor)].map((t) => Buffer.from((t.dataSync() as Float32Array).slice().buffer));
}

// On wasm the snapshot copies straight from the heap (not through dataSync): its bytes must be dataSync's bytes,
// and a checkpoint written from it must restore bit for bit.
describe('snapshot on the wasm backend', () => {
  beforeAll(async () => {
    await useFastestBackend({ candidates: ['wasm'] });
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('copies every weight and optimizer slot exactly, and a checkpoint of it restores bit for bit', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const model = tinyModel(7);
    await train(model, 0, 3);
    const heap = jest.spyOn(tf.backend() as unknown as { typedArrayFromHeap: (t: tf.Tensor) => Float32Array }, 'typedArrayFromHeap');
    const snapshot = await snapshotModel(model);
    // One heap read per weight and per optimizer tensor (slots, iteration count, accBeta1/2).
    const tensors = snapshot.weights.length + (snapshot.optimizer?.weights.length ?? 0) + (snapshot.optimizer?.hidden.length ?? 0);
    expect(heap).toHaveBeenCalledTimes(tensors);
    heap.mockRestore();
    const slots = [...(snapshot.optimizer?.weights ?? [])];
    const copied = [...snapshot.weights, ...slots].map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    expect(copied).toEqual(await stateBytes(model));
    // The copy is the snapshot's own: training on changes the model, not the snapshot.
    const before = copied.map((b) => Buffer.from(b));
    await train(model, 3, 4);
    expect([...snapshot.weights, ...slots].map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toEqual(before);

    const dir = tempDir('wasm-snapshot');
    await saveCheckpoint(model, dir, { globalStep: 4, epoch: 0 });
    const restored = tinyModel(7);
    expect((await restoreLatest(restored, dir))?.globalStep).toBe(4);
    expect(await stateBytes(restored)).toEqual(await stateBytes(model));
  });
});
