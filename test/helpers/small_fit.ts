/**
 * A small deterministic `fitDataset` setup for end-to-end tests of the hooks and entry points: seeded
 * initializers, Adam, and a shuffled `data` pipeline of 24 examples in batches of 4 (6 steps per epoch).
 */
import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';

/** 3 → 6 (tanh) → 2, compiled with Adam(0.05) and mean squared error. */
export function smallModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [3], units: 6, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }));
  m.add(tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) }));
  m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  return m;
}

/** 24 examples shuffled per epoch (seed `seed`) in batches of 4: 6 steps per epoch. */
export function smallDataset(seed: string): data.CheckpointableDataset<tf.TensorContainer> {
  return data
    .range(0, 24)
    .map((i) => ({ xs: tf.tensor1d([Math.sin(i), Math.cos(i), i / 24]), ys: tf.tensor1d([Math.sin(2 * i), i % 2]) }))
    .shuffle(8, seed)
    .batch(4);
}
