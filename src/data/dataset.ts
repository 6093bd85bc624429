import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors';
import type { CheckpointableInput } from '../hooks/training_session';
import { BlobReader } from './blob';
import type { CheckpointableIterator } from './iterator';
import type { PipelineNode } from './node';
import { BatchNode } from './ops/batch';
import { ConcatenateNode } from './ops/concatenate';
import { FilterNode } from './ops/filter';
import { MapNode } from './ops/map';
import { PrefetchNode } from './ops/prefetch';
import { RepeatNode } from './ops/repeat';
import { ShardNode } from './ops/shard';
import { ShuffleNode } from './ops/shuffle';
import { SkipNode } from './ops/skip';
import { TakeNode } from './ops/take';
import { checkPipelineState, pipelineFingerprint, savePipelineState } from './pipeline_state';
import type { DatasetState, JsonValue } from './state';

export { DATASET_STATE_FORMAT_VERSION } from './pipeline_state';

/** tf.data's iterator type, which `Dataset.iterator()` is declared to return. */
type TfLazyIterator<T> = Awaited<ReturnType<tf.data.Dataset<T & tf.TensorContainer>['iterator']>>;

interface PendingRestore<T> {
  state: JsonValue;
  blob: Uint8Array | undefined;
  /** The iterator the restore was validated on, handed out by the first `iterator()` call (no second restore). */
  unused: CheckpointableIterator<T> | null;
}

/**
 * A `tf.data.Dataset` whose iterators can be saved and restored mid-epoch, exactly. Same methods, argument orders,
 * sizes and (for the same seed) element order as tf.data, so it works with `fitDataset`, `evaluateDataset`,
 * `forEachAsync`, `toArray` and `iterator()`.
 *
 * **Saving.** `saveState()` captures the *live* iterator (the one most recently returned by `iterator()` on this
 * object) and every shuffle's dataset-level RNG (tf.data reseeds each new iterator from it).
 *
 * **Restoring is pending.** `restoreState(state)` sets the dataset RNGs at once. Then every `iterator()` call
 * returns an iterator at the saved position, without drawing from the RNGs, until one of those iterators has been
 * asked for an element; after that `iterator()` is normal again. This is what `model.fitDataset` needs: without
 * `batchesPerEpoch` it calls `iterator()` once before the epoch loop and again at each epoch start, discarding the
 * first; both get the restored position, and the next epoch's iterator is seeded as in the uninterrupted run.
 * With `batchesPerEpoch` it calls `iterator()` once per `fitDataset` call; to continue the same stream in a later
 * `fitDataset` call, `restoreState(saveState())` in between.
 */
export class CheckpointableDataset<T extends tf.TensorContainer> extends tf.data.Dataset<T> implements CheckpointableInput {
  /** Number of elements, `Infinity` when endless, `null` when unknown (tf.data's rules). */
  override readonly size: number;
  private live: CheckpointableIterator<T> | null = null;
  private pending: PendingRestore<T> | null = null;

  /** Wraps a pipeline plan; the `data.*` sources and every transformation build these for you. */
  constructor(
    /** The pipeline plan behind this dataset. */
    readonly node: PipelineNode<T>,
  ) {
    super();
    this.size = node.size as number;
  }

  /** A new iterator (restored to the saved position while a restore is pending); becomes the live iterator. */
  override async iterator(): Promise<TfLazyIterator<T>> {
    return this.checkpointableIterator() as unknown as TfLazyIterator<T>;
  }

  /** Same as `iterator()`, typed as our iterator (with `saveState` / `restoreState`). */
  checkpointableIterator(): CheckpointableIterator<T> {
    const pending = this.pending;
    let it: CheckpointableIterator<T>;
    if (pending !== null) {
      if (pending.unused !== null) {
        it = pending.unused;
        pending.unused = null;
      } else {
        it = this.node.createIterator(false);
        it.restore(pending.state, new BlobReader(pending.blob), 'iterator');
      }
      it.onFirstRequest = () => {
        if (this.pending === pending) this.pending = null;
      };
    } else {
      it = this.node.createIterator(true);
    }
    this.live = it;
    return it;
  }

  /**
   * Position of the live iterator plus the dataset RNGs, plain JSON (survives `JSON.parse(JSON.stringify(state))`).
   * The live iterator's own `saveState()` returns the same state. Call between `next()` calls.
   */
  saveState(): DatasetState {
    return savePipelineState(this.node, this.live);
  }

  /**
   * Continue from `state` (see the class comment for the pending semantics). Throws `PipelineMismatchError` when
   * the state belongs to a differently built pipeline and `StateFormatError` when it is malformed or newer; in
   * both cases nothing is changed.
   */
  restoreState(state: DatasetState): void {
    // Validates everything on a fresh iterator before touching this dataset.
    const checked = checkPipelineState(this.node, state);
    checked.applyRngs();
    this.live = checked.probe;
    this.pending = checked.probe === null ? null : { state: state.iterator as JsonValue, blob: state.blob, unused: checked.probe };
  }

  /** Ops and arguments of this pipeline in pre-order, one entry per node: the identity checked on restore. */
  fingerprint(): string {
    return pipelineFingerprint(this.node);
  }

  /** Elements transformed 1-to-1 by `transform` (deterministic; run inside `tf.tidy`). */
  override map<O extends tf.TensorContainer>(transform: (value: T) => O): CheckpointableDataset<O> {
    return new CheckpointableDataset(new MapNode<T, O>(this.node, transform, false));
  }

  /** Elements transformed 1-to-1 by an async `transform` (deterministic; it tidies its own tensors). */
  override mapAsync<O extends tf.TensorContainer>(transform: (value: T) => Promise<O>): CheckpointableDataset<O> {
    return new CheckpointableDataset(new MapNode<T, O>(this.node, transform, true));
  }

  /** Elements for which `predicate` is true. */
  override filter(predicate: (value: T) => boolean): CheckpointableDataset<T> {
    return new CheckpointableDataset(new FilterNode(this.node, predicate));
  }

  /**
   * Streaming shuffle, identical to tf.data's for the same seed. Without a seed the order is still reproducible:
   * the seed is derived from the pipeline's description (tf.data would use the clock).
   */
  override shuffle(bufferSize: number, seed?: string | number, reshuffleEachIteration = true): CheckpointableDataset<T> {
    return new CheckpointableDataset(new ShuffleNode(this.node, bufferSize, seed, reshuffleEachIteration));
  }

  /** Batches of `batchSize` elements, batched like tf.data. */
  override batch(batchSize: number, smallLastBatch = true): CheckpointableDataset<tf.TensorContainer> {
    return new CheckpointableDataset(new BatchNode(this.node, batchSize, smallLastBatch));
  }

  /** Reads up to `bufferSize` elements ahead. */
  override prefetch(bufferSize: number): CheckpointableDataset<T> {
    return new CheckpointableDataset(new PrefetchNode(this.node, bufferSize));
  }

  /** This dataset `count` times; forever when `count` is missing or negative. */
  override repeat(count?: number): CheckpointableDataset<T> {
    return new CheckpointableDataset(new RepeatNode(this.node, count));
  }

  /** The first `count` elements. */
  override take(count: number): CheckpointableDataset<T> {
    return new CheckpointableDataset(new TakeNode(this.node, count));
  }

  /** All but the first `count` elements. */
  override skip(count: number): CheckpointableDataset<T> {
    return new CheckpointableDataset(new SkipNode(this.node, count));
  }

  /** This dataset's elements, then `other`'s (which must also be a `CheckpointableDataset`). */
  override concatenate(other: tf.data.Dataset<T>): CheckpointableDataset<T> {
    if (!(other instanceof CheckpointableDataset)) {
      throw new InvalidArgumentError('concatenate() needs a CheckpointableDataset (from tfjs-resumable data.*), not a plain tf.data.Dataset.');
    }
    return new CheckpointableDataset(new ConcatenateNode(this.node, (other as CheckpointableDataset<T>).node));
  }

  /** Every `numShards`-th element starting at `index` (one worker's share). */
  shard(numShards: number, index: number): CheckpointableDataset<T> {
    return new CheckpointableDataset(new ShardNode(this.node, numShards, index));
  }
}
