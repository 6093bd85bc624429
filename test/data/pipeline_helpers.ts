import * as tf from '@tensorflow/tfjs';
import * as data from '../../src/data';
import type { CheckpointableDataset } from '../../src/data';

/** One op of a randomly built pipeline, rebuildable from this plain description. */
export type OpSpec =
  | { op: 'map' }
  | { op: 'filter'; mod: number }
  | { op: 'shuffle'; bufferSize: number; seed: number; reshuffle: boolean }
  | { op: 'batch'; size: number; small: boolean }
  | { op: 'prefetch'; size: number }
  | { op: 'repeat'; count: number }
  | { op: 'take'; count: number }
  | { op: 'skip'; count: number }
  | { op: 'shard'; num: number; index: number }
  | { op: 'concatenate'; length: number }
  | { op: 'zip'; length: number };

/** A pipeline: a source and ops on it. */
export interface PipelineSpec {
  /** `tensorSlices`: rows `[i, -i]` of a float32 tensor, so elements are tensors from the source on. */
  source: 'range' | 'array' | 'tensorSlices';
  length: number;
  ops: OpSpec[];
}

/** Build a fresh pipeline object from its description. */
export function buildPipeline(spec: PipelineSpec): CheckpointableDataset<tf.TensorContainer> {
  let ds: CheckpointableDataset<tf.TensorContainer> =
    spec.source === 'range'
      ? data.range(0, spec.length)
      : spec.source === 'array'
        ? data.array(Array.from({ length: spec.length }, (_, i) => i * 10))
        : data.tensorSlices(tf.tensor2d(Array.from({ length: spec.length }, (_, i) => [i, -i]).flat(), [spec.length, 2]));
  for (const o of spec.ops) {
    switch (o.op) {
      case 'map': ds = ds.map((x) => (x as number) * 3 + 1); break;
      case 'filter': ds = ds.filter((x) => (x as number) % o.mod !== 0); break;
      case 'shuffle': ds = ds.shuffle(o.bufferSize, o.seed, o.reshuffle); break;
      case 'batch': ds = ds.batch(o.size, o.small); break;
      case 'prefetch': ds = ds.prefetch(o.size); break;
      case 'repeat': ds = ds.repeat(o.count); break;
      case 'take': ds = ds.take(o.count); break;
      case 'skip': ds = ds.skip(o.count); break;
      case 'shard': ds = ds.shard(o.num, o.index); break;
      case 'concatenate': ds = ds.concatenate(data.range(1000, 1000 + o.length)); break;
      case 'zip': ds = data.zip([ds, data.range(500, 500 + o.length)]); break;
    }
  }
  return ds;
}

/** A plain JS copy of an element (tensors read and disposed), for exact comparison. */
export function plain(x: unknown): unknown {
  if (x instanceof tf.Tensor) {
    const v = x.arraySync();
    x.dispose();
    return v;
  }
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}
