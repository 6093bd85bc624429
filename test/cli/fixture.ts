import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BlobCheckpointStore } from '../../src/checkpoint/blob_checkpoint_store';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import * as data from '../../src/data';
import { INPUT_PIPELINE_SAVEABLE_NAME } from '../../src/data/saveable';
import { encodeDatasetState } from '../../src/data/state_codec';
import type { DatasetState } from '../../src/data/state';
import { FIT_POSITION_SAVEABLE_NAME } from '../../src/estimator/resumable_fit';
import { packInputStates } from '../../src/checkpoint/input_checkpoint';
import { tinyModel, train } from '../checkpoint/helpers';

/** Steps at which the fixture saves a model checkpoint and an input checkpoint. */
export const FIXTURE_STEPS = [2, 4, 6];
/** Batches per epoch of the fixture's imaginary run: step 4 and 6 are in epoch 1. */
export const STEPS_PER_EPOCH = 3;

/** What the fixture wrote, for exact expectations. */
export interface ModelDirFixture {
  dir: string;
  /** Weights of the model at the newest checkpoint, in `model.weights` order. */
  finalWeights: Array<{ name: string; shape: number[]; values: Float32Array }>;
  /** The pipeline state saved at each step (same in the model checkpoint and in input.ckpt-<step>). */
  states: Map<number, DatasetState>;
  /** The pipeline state of the second worker's single checkpoint (step 6). */
  workerState: DatasetState;
}

/** The pipeline every fixture checkpoint belongs to. */
export function fixturePipeline(): data.CheckpointableDataset<number> {
  return data.range(0, 20).shuffle(8, 3).take(15);
}

/**
 * A real modelDir: a tiny Adam MLP trained on fixed batches and saved with `saveCheckpoint` at steps 2, 4, 6
 * (extras `input_pipeline` and `fit_position`, as resumableFit writes them), input checkpoints
 * `input.ckpt-<step>` through `BlobCheckpointStore` + `packInputStates`, and one per-worker series
 * `input_worker_1.ckpt-6`.
 */
export async function buildModelDir(dir: string): Promise<ModelDirFixture> {
  const storage = new LocalCheckpointStorage(dir);
  const inputs = new BlobCheckpointStore(storage, { indexName: 'checkpoint_input', prefix: 'input.ckpt' });
  const worker = new BlobCheckpointStore(storage, { indexName: 'checkpoint_input_worker_1', prefix: 'input_worker_1.ckpt' });
  const model = tinyModel();
  const ds = fixturePipeline();
  const it = await ds.iterator();
  const states = new Map<number, DatasetState>();
  let done = 0;
  for (const step of FIXTURE_STEPS) {
    await train(model, done, step);
    for (; done < step; done++) await it.next();
    const state = ds.saveState();
    states.set(step, state);
    const epoch = Math.floor(step / STEPS_PER_EPOCH);
    const position = { epoch, stepInEpoch: step % STEPS_PER_EPOCH };
    await inputs.save(step, packInputStates([encodeDatasetState(state)]));
    await saveCheckpoint(model, storage, {
      globalStep: step,
      epoch,
      extras: {
        [INPUT_PIPELINE_SAVEABLE_NAME]: encodeDatasetState(state),
        [FIT_POSITION_SAVEABLE_NAME]: new TextEncoder().encode(JSON.stringify(position)),
      },
    });
  }
  const workerDs = data.range(100, 110);
  const workerIt = await workerDs.iterator();
  await workerIt.next();
  const workerState = workerDs.saveState();
  await worker.save(6, packInputStates([encodeDatasetState(workerState)]));
  const values = model.getWeights();
  const finalWeights = model.weights.map((w, i) => ({
    name: w.originalName,
    shape: w.shape as number[],
    values: (values[i].dataSync() as Float32Array).slice(),
  }));
  tf.dispose(values);
  return { dir, finalWeights, states, workerState };
}

/** Size of every file below `rel` (a file or a directory) in bytes. */
export function sizeOf(dir: string, rel: string): number {
  const abs = path.join(dir, rel);
  const st = fs.statSync(abs);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(abs).reduce((n, name) => n + sizeOf(dir, path.join(rel, name)), 0);
}
