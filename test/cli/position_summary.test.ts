import * as tf from '@tensorflow/tfjs';
import * as data from '../../src/data';
import { summarizePosition } from '../../src/cli/position_summary';

beforeAll(() => tf.setBackend('cpu'));

describe('inspect describes a saved position in words, not RNG internals', () => {
  it('epoch, batch and shuffle-buffer fill of a repeat/batch/shuffle pipeline (after a JSON round trip)', async () => {
    // 5,000 elements in batches of 32: 157 batches per epoch (the last one small). After 164 batches the run is
    // 7 batches into its second epoch; the shuffle has read its 1,000 buffered elements plus the 7 x 32 delivered.
    const ds = data.range(0, 5000).map((x) => x * 2).shuffle(1000, 3).batch(32).repeat(3);
    const it = await ds.iterator();
    for (let i = 0; i < 164; i++) tf.dispose((await it.next()).value);
    const state = JSON.parse(JSON.stringify(ds.saveState())) as data.DatasetState;
    expect(summarizePosition(JSON.parse(state.fingerprint) as string[], state.iterator)).toEqual({
      headline: 'epoch 2 of 3, batch 7, shuffle buffer 1000 of 1000',
      details: [
        'repeat(count=3): epoch 2 of 3 in progress',
        'batch(batchSize=32, smallLastBatch=true): 7 batches delivered in this epoch',
        'shuffle(bufferSize=1000, seed=3, reshuffleEachIteration=true): shuffle buffer 1000 of 1000',
        'range(start=0, end=5000, step=1): at element 1224 of 5000',
      ],
    });
  });

  it('between epochs, before any iterator, and a state of another shape', () => {
    const ops = ['repeat(count=2)', 'range(start=0, end=4, step=1)'];
    expect(summarizePosition(ops, { started: 1, current: null })).toEqual({
      headline: '1 epoch done',
      details: ['repeat(count=2): 1 epoch done, the next not started'],
    });
    expect(summarizePosition(ops, null)).toEqual({ headline: 'no iterator created yet: training starts at the first element', details: [] });
    expect(summarizePosition(ops, { cursor: 3 })).toBeNull();
  });
});
