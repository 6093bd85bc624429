import * as tf from '@tensorflow/tfjs';
import { CheckpointError, CorruptCheckpointError } from '../errors';
import type { JsonValue } from '../data/state';
import type { SnapshotBufferPool } from './snapshot_buffer_pool';
import { type SnapshotFill, abortFill, advanceFill, createFill } from './snapshot_fill';
import { CheckpointDtype, TensorData } from './tensor_data';

/** Optimizer state copied off the backend. */
export interface OptimizerSnapshot {
  /** `optimizer.getClassName()`, e.g. `'Adam'`: restoring into another optimizer class is refused. */
  className: string;
  /** `optimizer.getWeights()`: the iteration count first, then slots (Adam's first and second moments). */
  weights: TensorData[];
  /**
   * Scalar variables the optimizer keeps outside `getWeights()` (Adam's `accBeta1`/`accBeta2`, Adamax's
   * `iteration`), keyed by property name. `setWeights` recomputes them with `pow`, which differs in the
   * last bits from the product the uninterrupted run accumulated; restoring them keeps resume bit-exact.
   */
  hidden: TensorData[];
}

/** Everything a model checkpoint holds about the model, as owned bytes. */
export interface ModelSnapshot {
  /** `model.toJSON(null, false)`: the tfjs layers topology. */
  modelTopology: JsonValue;
  /** Every weight (trainable or not) in `model.weights` order, named by `originalName` as tfjs saves them. */
  weights: TensorData[];
  /** The optimizer's state, or `null` when the model has no optimizer (not compiled). */
  optimizer: OptimizerSnapshot | null;
}

/** A backend that can lend a view of a tensor's values in its memory (wasm: its heap). */
interface HeapBackend {
  typedArrayFromHeap(tensor: tf.Tensor): Float32Array | Int32Array;
}

/**
 * The values of `t` for one copy into the snapshot: on wasm a view of the heap (valid until the next kernel
 * runs; the caller copies it at once), saving `dataSync`'s own copy of every tensor (~70 MB for a 6M-param
 * model with Adam, on the training thread); elsewhere `dataSync`.
 */
function backendValues(t: tf.Tensor): Float32Array | Int32Array {
  // The backend that holds this tensor's data (tfjs moves data between backends lazily).
  const engine = tf.engine() as unknown as { state: { tensorInfo: WeakMap<object, { backend?: unknown }> } };
  const backend = engine.state.tensorInfo.get(t.dataId)?.backend as Partial<HeapBackend> | undefined;
  if (typeof backend?.typedArrayFromHeap === 'function') return backend.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array | Int32Array;
}

/** Bytes copied between two progress reports: the worker writes the first chunks while the rest is copied. */
const COPY_SLICE_BYTES = 4 * 1024 * 1024;

/** Tensors laid out back to back in one owned buffer, their values not copied yet. */
interface TensorLayout {
  buffer: ArrayBufferLike;
  tensors: TensorData[];
  sources: tf.Tensor[];
}

/**
 * Lays named tensors out in one owned buffer, back to back (so writing them needs no further copy);
 * {@link copyLayout} fills it.
 */
function layoutTensors(named: Array<[string, tf.Tensor]>, pool: SnapshotBufferPool | undefined): TensorLayout {
  for (const [name, t] of named) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw new CheckpointError(`Cannot checkpoint tensor ${name} of dtype ${t.dtype}: only float32 and int32 are stored.`);
    }
  }
  const byteLength = named.reduce((sum, [, t]) => sum + t.size * 4, 0);
  const buffer = pool !== undefined ? pool.take(byteLength) : new ArrayBuffer(byteLength);
  let offset = 0;
  const tensors = named.map(([name, t]): TensorData => {
    const data = t.dtype === 'int32' ? new Int32Array(buffer, offset, t.size) : new Float32Array(buffer, offset, t.size);
    offset += t.size * 4;
    return { name, dtype: t.dtype as CheckpointDtype, shape: t.shape.slice(), data };
  });
  return { buffer, tensors, sources: named.map(([, t]) => t) };
}

/**
 * Copies the tensors' current values into their layout, reporting progress to `report` (bytes copied from
 * the buffer's start) every few MiB. dataSync may return the backend's own array, which training keeps
 * updating: the copy is what makes the snapshot safe to write in the background.
 */
function copyLayout(layout: TensorLayout, report: ((bytes: number) => void) | undefined): void {
  let copied = 0;
  let reported = 0;
  layout.tensors.forEach((target, i) => {
    const values = backendValues(layout.sources[i]);
    for (let start = 0; start < values.length; start += COPY_SLICE_BYTES / 4) {
      const slice = values.subarray(start, start + COPY_SLICE_BYTES / 4);
      target.data.set(slice, start);
      copied += slice.length * 4;
      if (report !== undefined && copied - reported >= COPY_SLICE_BYTES) {
        report(copied);
        reported = copied;
      }
    }
  });
  report?.(copied);
}

/** Properties of an optimizer that are variables of their own (not part of `getWeights()`). */
function hiddenOptimizerVariables(optimizer: tf.Optimizer): Array<[string, tf.Variable]> {
  return Object.entries(optimizer as unknown as Record<string, unknown>)
    .filter((entry): entry is [string, tf.Variable] => entry[1] instanceof tf.Variable)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A snapshot whose buffers are laid out but not filled yet: `snapshot` can be handed to the checkpoint
 * writer first (with `fill`, so its worker writes each chunk once copied), then `copy()` fills it.
 */
export interface PendingSnapshot {
  /** The snapshot; its tensor values are valid once {@link copy} returned. */
  readonly snapshot: ModelSnapshot;
  /** Progress of the copy, shared with the writer's worker; `undefined` when the buffers are not shared. */
  readonly fill: SnapshotFill | undefined;
  /**
   * Copies the values, in the order the writer writes them (optimizer.bin first). Call it before anything
   * is awaited: the snapshot is the step's only if training has not moved on. Aborts the fill when it throws.
   */
  copy(): void;
}

/**
 * Lays out a snapshot of the model's weights and its optimizer's state; {@link PendingSnapshot.copy}
 * copies them. Everything is copied in one synchronous stretch after the only await
 * (`optimizer.getWeights()`, which returns live variables, not copies), so the snapshot is one consistent
 * step even if training continues while it is being written. With `pool`, the copies go into buffers
 * reused from earlier snapshots (see {@link SnapshotBufferPool}).
 */
export async function prepareSnapshot(model: tf.LayersModel, pool?: SnapshotBufferPool): Promise<PendingSnapshot> {
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  const optimizerWeights = optimizer ? await optimizer.getWeights() : [];
  const values = model.getWeights();
  const weights = layoutTensors(model.weights.map((w, i): [string, tf.Tensor] => [w.originalName, values[i]]), pool);
  const slots = optimizer
    ? layoutTensors([...optimizerWeights.map((w): [string, tf.Tensor] => [w.name, w.tensor]), ...hiddenOptimizerVariables(optimizer)], pool)
    : undefined;
  const optimizerSnapshot: OptimizerSnapshot | null =
    optimizer && slots
      ? {
          className: optimizer.getClassName(),
          weights: slots.tensors.slice(0, optimizerWeights.length),
          hidden: slots.tensors.slice(optimizerWeights.length),
        }
      : null;
  // The writer writes optimizer.bin before weights.bin: copied in that order, its first chunks are ready first.
  const layouts = slots !== undefined ? [slots, weights] : [weights];
  const fill = createFill(layouts.map((l) => l.buffer));
  const snapshot: ModelSnapshot = { modelTopology: model.toJSON(null, false) as unknown as JsonValue, weights: weights.tensors, optimizer: optimizerSnapshot };
  const copy = (): void => {
    try {
      layouts.forEach((layout, i) => copyLayout(layout, fill !== undefined ? (bytes) => advanceFill(fill, i, bytes) : undefined));
    } catch (e) {
      if (fill !== undefined) abortFill(fill);
      throw e;
    } finally {
      // getWeights creates the iteration-count scalar fresh; the slots are the optimizer's own variables.
      for (const w of optimizerWeights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    }
  };
  return { snapshot, fill, copy };
}

/** Copies the model's weights and its optimizer's state now (see {@link prepareSnapshot}). */
export async function snapshotModel(model: tf.LayersModel, pool?: SnapshotBufferPool): Promise<ModelSnapshot> {
  const pending = await prepareSnapshot(model, pool);
  pending.copy();
  return pending.snapshot;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks that stored weights fit the model, layer by layer, without changing anything: the error names
 * the layer and both shapes so a changed architecture is obvious.
 */
export function checkWeightsFit(model: tf.LayersModel, weights: TensorData[], source: string): void {
  const target = model.weights;
  if (target.length !== weights.length) {
    throw new CheckpointError(
      `${source} holds ${weights.length} weights but the model has ${target.length}: the checkpoint was written by ` +
        'a different architecture. Restore into the same architecture or use a new modelDir.',
    );
  }
  target.forEach((variable, i) => {
    const stored = weights[i];
    if (!sameShape(variable.shape as number[], stored.shape) || variable.dtype !== stored.dtype) {
      const layer = model.layers.find((l) => l.weights.includes(variable));
      throw new CheckpointError(
        `${source} does not fit layer ${layer ? layer.name : '?'}: weight ${variable.originalName} is ` +
          `${variable.dtype}${JSON.stringify(variable.shape)} in the model but the checkpoint's ${stored.name} is ` +
          `${stored.dtype}${JSON.stringify(stored.shape)}. Restore into the same architecture or use a new modelDir.`,
      );
    }
  });
}

/** Checks that stored optimizer state fits the model's optimizer, without changing anything. */
export function checkOptimizerFits(model: tf.LayersModel, state: OptimizerSnapshot, source: string): void {
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (!optimizer) {
    throw new CheckpointError(
      `${source} holds ${state.className} optimizer state but the model is not compiled: ` +
        'call model.compile(...) with the same optimizer before restoring.',
    );
  }
  if (optimizer.getClassName() !== state.className) {
    throw new CheckpointError(
      `${source} holds ${state.className} optimizer state but the model was compiled with ` +
        `${optimizer.getClassName()}: compile with ${state.className} to resume this run.`,
    );
  }
  const hidden = new Map(hiddenOptimizerVariables(optimizer));
  for (const h of state.hidden) {
    const v = hidden.get(h.name);
    if (!v || !sameShape(v.shape as number[], h.shape) || v.dtype !== h.dtype) {
      throw new CheckpointError(
        `${source} holds optimizer variable ${h.name} ${h.dtype}${JSON.stringify(h.shape)} that the model's ` +
          `${state.className} does not have in that form: this tfjs version's optimizer differs from the writer's.`,
      );
    }
  }
}

/** What each stateful optimizer class keeps per weight, for messages. */
const OPTIMIZER_SLOTS: Record<string, string> = {
  Adam: 'moments',
  Adamax: 'moments',
  RMSProp: 'accumulators',
  Adagrad: 'accumulators',
  Adadelta: 'accumulators',
  Momentum: 'velocities',
};

/**
 * Refuses (`CorruptCheckpointError`, so restore falls back) a checkpoint without optimizer state when the model's
 * optimizer keeps state per weight: restoring it would silently restart that state from zero and training would
 * continue differently. Plain SGD keeps none and accepts it.
 */
export function checkOptimizerPresent(model: tf.LayersModel, state: OptimizerSnapshot | null): void {
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (state !== null || optimizer === undefined) return;
  const className = optimizer.getClassName();
  if (className === 'SGD') return;
  throw new CorruptCheckpointError(
    `it holds no optimizer state (its state.json records no optimizer.bin) but the model is compiled with ${className}, ` +
      `whose ${OPTIMIZER_SLOTS[className] ?? 'state'} would silently restart from zero.`,
  );
}

/** Writes checked weights and optimizer state into the model (call the `check*` functions first). */
export async function applySnapshot(
  model: tf.LayersModel,
  weights: TensorData[],
  optimizerState: OptimizerSnapshot | null,
): Promise<void> {
  const tensors = weights.map((w) => tf.tensor(w.data, w.shape, w.dtype));
  model.setWeights(tensors);
  tf.dispose(tensors);
  if (optimizerState === null) return;
  const optimizer = model.optimizer as tf.Optimizer;
  const named = optimizerState.weights.map((w) => ({ name: w.name, tensor: tf.tensor(w.data, w.shape, w.dtype) }));
  await optimizer.setWeights(named);
  tf.dispose(named.map((n) => n.tensor));
  const hidden = new Map(hiddenOptimizerVariables(optimizer));
  for (const h of optimizerState.hidden) {
    const value = tf.tensor(h.data, h.shape, h.dtype);
    (hidden.get(h.name) as tf.Variable).assign(value);
    value.dispose();
  }
}
