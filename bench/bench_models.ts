/**
 * The models the writer benchmarks train, built from seeded initializers so every run starts from the same
 * weights and every variant does the same arithmetic (final weights are compared bit for bit).
 */
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES } from '../examples/mnist_data';
import { mnistModel } from '../examples/mnist_model';

/** A model the writer benchmarks train: its name in the table and how to build it (compiled, Adam). */
export interface BenchModel {
  name: string;
  build(): tf.LayersModel;
}

/** The demo's model (`npm run demo`): examples/mnist_model.ts, 784→64→10, ~51k parameters, Adam. */
export const DEMO_MODEL: BenchModel = { name: 'demo model (784-64-10, Adam)', build: mnistModel };

/**
 * A ~5.8M-parameter MLP (784→2048→2048→10, relu/softmax) with Adam: ~23 MB of weights and ~47 MB of
 * moments, the ~70 MB checkpoint issue 11's targets are stated for.
 */
export const SIX_M_MLP: BenchModel = {
  name: '5.8M-param MLP (784-2048-2048-10, Adam)',
  build: () => {
    const model = tf.sequential();
    [2048, 2048].forEach((units, i) => {
      model.add(
        tf.layers.dense({
          ...(i === 0 ? { inputShape: [IMAGE_SIZE] } : {}),
          units,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 101 + i }),
        }),
      );
    });
    model.add(
      tf.layers.dense({ units: NUM_CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 199 }) }),
    );
    model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
    return model;
  },
};

/** Final weights as bytes, to check that checkpointing did not change what was trained. */
export function weightBytes(model: tf.LayersModel): Buffer {
  return Buffer.concat(model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer)));
}

/** An integer from the environment (`BENCH_...`), else `fallback`: sizes and rounds for quick runs. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}.`);
  return value;
}

/** Nearest-rank percentile (`p` in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
