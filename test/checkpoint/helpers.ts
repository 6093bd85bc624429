import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import type { CheckpointLogger } from '../../src/checkpoint/logger';
import type { CheckpointStorage, StorageStat } from '../../src/checkpoint/storage';
import { writerFingerprint } from '../../src/checkpoint/model_checkpoint';
import { snapshotModel } from '../../src/checkpoint/model_snapshot';
import type { WriteJob } from '../../src/checkpoint/write_job';

/** A fresh temporary directory for one test. */
export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tfjs-resumable-${tag}-`));
}

/** A logger that keeps every warning for assertions. */
export class RecordingLogger implements CheckpointLogger {
  readonly warnings: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
}

/** A tiny deterministic MLP (seeded initializers) compiled with Adam. */
export function tinyModel(hidden = 5, optimizer: string | tf.Optimizer = 'adam'): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [4], units: hidden, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  model.compile({ optimizer, loss: 'meanSquaredError' });
  return model;
}

/** Fixed training data: batch `i` is a pure function of `i`. */
export function batch(i: number): [tf.Tensor, tf.Tensor] {
  const xs = tf.tensor2d(Array.from({ length: 12 }, (_, k) => Math.sin(i * 12 + k)), [3, 4]);
  const ys = tf.tensor2d(Array.from({ length: 6 }, (_, k) => Math.cos(i * 6 + k)), [3, 2]);
  return [xs, ys];
}

/** Trains steps [from, to) on the fixed batches. */
export async function train(model: tf.LayersModel, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const [xs, ys] = batch(i);
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
  }
}

/** Every weight of a model as raw bytes, for bit-for-bit comparison. */
export function weightBytes(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(new Uint8Array((w.dataSync() as Float32Array).slice().buffer)));
}

/** A modelDir holding a good checkpoint at step 1 (its weights in `step1`), and the model trained on to step 2. */
export async function checkpointedAtStep1(tag: string): Promise<{ dir: string; model: tf.LayersModel; step1: number[][] }> {
  const dir = tempDir(tag);
  const model = tinyModel();
  await train(model, 0, 1);
  await saveCheckpoint(model, dir, { globalStep: 1, epoch: 0 });
  const step1 = weightBytes(model);
  await train(model, 1, 2);
  return { dir, model, step1 };
}

/** Counts cases tried / passed per category and prints a summary line per category. */
export class CaseTally {
  private readonly counts = new Map<string, { tried: number; passed: number }>();
  async run(category: string, body: () => Promise<void> | void): Promise<void> {
    const c = this.counts.get(category) ?? { tried: 0, passed: 0 };
    this.counts.set(category, c);
    c.tried += 1;
    await body();
    c.passed += 1;
  }
  print(file: string): void {
    const lines = [...this.counts].map(([k, c]) => `  ${k}: ${c.passed}/${c.tried} cases passed`);
    console.log(`${file} summary:\n${lines.join('\n')}`);
  }
}

/** A storage that forwards every call to another one: tests subclass it to slow down or fail some calls. */
export class DelegatingStorage implements CheckpointStorage {
  constructor(protected readonly inner: CheckpointStorage) {}
  get location(): string {
    return this.inner.location;
  }
  read(p: string): Promise<Uint8Array> {
    return this.inner.read(p);
  }
  writeAtomic(p: string, data: Uint8Array): Promise<void> {
    return this.inner.writeAtomic(p, data);
  }
  exists(p: string): Promise<boolean> {
    return this.inner.exists(p);
  }
  stat(p: string): Promise<StorageStat | null> {
    return this.inner.stat(p);
  }
  list(p: string): Promise<string[]> {
    return this.inner.list(p);
  }
  delete(p: string): Promise<void> {
    return this.inner.delete(p);
  }
  lock(): Promise<() => Promise<void>> {
    return this.inner.lock();
  }
}

/** A CheckpointWriter job saving a fresh {@link tinyModel} as step `step` (keeping 5). */
export async function modelWriteJob(step: number): Promise<WriteJob> {
  const model = tinyModel();
  const snapshot = await snapshotModel(model);
  model.dispose();
  const meta = { globalStep: step, epoch: 0 };
  return { kind: 'model', snapshot, meta: { ...meta, fingerprint: writerFingerprint(meta) }, keepCheckpointMax: 5 };
}
