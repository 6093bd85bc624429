import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors';
import { BlobReader } from './blob';
import { StateFormatError } from './errors';
import type { PipelineNode } from './node';
import { checkPipelineState, savePipelineState } from './pipeline_state';
import type { DatasetState, JsonValue } from './state';

/**
 * One element travelling through a pipeline, with the position it came from in an addressable source (a source
 * index or a byte offset), or `null` when it cannot be recomputed from a position. Buffers save keys, not elements.
 */
export interface Item<T> {
  /** The element itself. */
  value: T;
  /**
   * Where the element can be recomputed from (source index or byte offset), or `null` when it cannot; a
   * buffered element with a `null` key is saved whole, in the state's blob.
   */
  key: number | null;
}

/**
 * The saved position of an iterator. Since format 2 this is the same object as the dataset's state (one position,
 * one state): the pipeline identity, the dataset-level RNGs and the iterator's position, plain JSON.
 */
export type IteratorState = DatasetState;

/** The iterator state written by tfjs-resumable 0.1 (format 1), still accepted by `restoreState`. */
export interface LegacyIteratorState {
  /** The position of every iterator in the pipeline, as plain JSON. */
  state: JsonValue;
  /** Binary segments the JSON refers to by offset and length. */
  blob?: Uint8Array;
}

/**
 * Base of every pipeline iterator (one iterator kind per class, as in tfjs-data's `lazy_iterator.ts`).
 * Downstream iterators call `pull()`; users and tfjs call `next()`, which serializes concurrent calls like tf.data's
 * iterators do. Also offers the `LazyIterator` methods tfjs calls (`toArray`, `forEachAsync`, ...).
 */
export abstract class CheckpointableIterator<T> {
  private lastRead: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  /** Called once, at the first `next()`; the dataset uses it to end a pending restore. */
  onFirstRequest: (() => void) | null = null;

  /** Iterators are created by their pipeline node (`node.createIterator`), not by user code. */
  constructor(
    /** The pipeline node this iterator walks. */
    protected readonly node: PipelineNode<T>,
  ) {}

  /** Produce the next element, or `null` at the end. Once at the end, keeps returning `null`. */
  abstract pull(): Promise<Item<T> | null>;

  /** Write this iterator's position (and its upstream's) as JSON-safe values (binary parts as base64). */
  abstract save(): JsonValue;

  /**
   * Set this iterator's position from `save()` output. Validates everything it reads and throws
   * `StateFormatError` on the first problem; may leave this iterator half-set when it throws, so public
   * restores validate on a fresh twin first (see `restoreState`).
   */
  abstract restore(state: JsonValue, blobs: BlobReader, path: string): void;

  /** Release tensors held in buffers (called when the iterator is replaced or its state overwritten). */
  dispose(): void {}

  /** Next element as an `IteratorResult`, like tf.data's `LazyIterator.next()`. */
  next(): Promise<IteratorResult<T>> {
    if (this.onFirstRequest !== null) {
      const notify = this.onFirstRequest;
      this.onFirstRequest = null;
      notify();
    }
    this.inFlight++;
    const result = this.lastRead.then(() => this.pull()).then(
      (item): IteratorResult<T> => {
        this.inFlight--;
        return item === null ? { value: null, done: true } : { value: item.value, done: false };
      },
      (e: unknown) => {
        this.inFlight--;
        throw e;
      },
    );
    this.lastRead = result.catch(() => undefined);
    return result;
  }

  /**
   * Snapshot of the current position: the same `DatasetState` the dataset's `saveState()` returns when this is its
   * live iterator (the pipeline's dataset-level RNGs included). Must not be called while a `next()` is pending.
   */
  saveState(): IteratorState {
    if (this.inFlight > 0) {
      throw new InvalidArgumentError('saveState() was called while a next() call was still pending; await it first.');
    }
    return savePipelineState(this.node, this);
  }

  /**
   * Move this iterator to a position saved by `saveState()` of an iterator or dataset of the same pipeline (a
   * format-1 `{state, blob}` iterator state is accepted too). The pipeline's dataset-level RNGs are set as well,
   * so later iterators reshuffle as in the uninterrupted run. The state is validated completely on a fresh twin
   * first, so a bad state throws `StateFormatError` (or `PipelineMismatchError`) and changes nothing.
   */
  restoreState(saved: IteratorState | LegacyIteratorState): void {
    if (this.inFlight > 0) {
      throw new InvalidArgumentError('restoreState() was called while a next() call was still pending; await it first.');
    }
    if (saved !== null && typeof saved === 'object' && 'state' in saved && !('formatVersion' in saved)) {
      const blobs = new BlobReader(saved.blob);
      const twin = this.node.createIterator(false);
      twin.restore(saved.state, blobs, 'iterator');
      twin.dispose();
      this.restore(saved.state, blobs, 'iterator');
      return;
    }
    const checked = checkPipelineState(this.node, saved as IteratorState);
    if (checked.probe === null) throw new StateFormatError('iterator: the state holds no iterator position (it was saved before iterator() was called).');
    checked.probe.dispose();
    checked.applyRngs();
    this.restore((saved as IteratorState).iterator as JsonValue, checked.blobs, 'iterator');
  }

  /** A short description, as tf.data's `summary()`. */
  summary(): string {
    return this.node.describe();
  }

  /** All remaining elements (finite pipelines only). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for (let r = await this.next(); !r.done; r = await this.next()) out.push(r.value);
    return out;
  }

  /** Same as `toArray()` (tf.data has a separate variant for its tests). */
  toArrayForTest(): Promise<T[]> {
    return this.toArray();
  }

  /** Call `f` on every remaining element, disposing the element's tensors afterwards like tf.data. */
  async forEachAsync(f: (value: T) => void): Promise<void> {
    for (let r = await this.next(); !r.done; r = await this.next()) {
      f(r.value);
      tf.dispose(r.value as tf.TensorContainer);
    }
  }

  /** Read and discard every remaining element. */
  async resolveFully(): Promise<void> {
    for (let r = await this.next(); !r.done; r = await this.next()) tf.dispose(r.value as tf.TensorContainer);
  }
}
