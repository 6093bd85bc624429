import * as tf from '@tensorflow/tfjs';
import type { BlobReader } from '../blob';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import { StateFormatError } from '../errors';
import type { JsonValue } from '../state';
import { JsonObject, readInt, readObject } from '../state_fields';

/**
 * Base of ops with exactly one upstream (map, filter, batch, take, skip, shard, prefetch, shuffle, repeat): holds
 * the upstream and reports it as the only child. An op over an addressable upstream stays addressable unless it
 * builds new elements from several inputs (batch overrides `addressable`); recomputing is op-specific, see
 * `PassThroughNode` for ops whose elements are the upstream's own.
 */
export abstract class UnaryNode<I, O> extends PipelineNode<O> {
  readonly children: readonly PipelineNode<unknown>[];

  constructor(
    /** The node this op reads from. */
    readonly upstream: PipelineNode<I>,
  ) {
    super();
    this.children = [upstream];
  }

  get addressable(): boolean {
    return this.upstream.addressable;
  }

  override get randomAccess(): boolean {
    return this.addressable && this.upstream.randomAccess;
  }

  override get keyLimit(): number {
    return this.upstream.keyLimit;
  }
}

/**
 * An op whose elements are upstream elements, unchanged: it only drops, reorders, buffers or repeats them. A key
 * therefore names the same element here as upstream, so recomputing elements is the upstream's job.
 */
export abstract class PassThroughNode<T> extends UnaryNode<T, T> {
  override fetchMany(keys: readonly number[]): Promise<T[]> {
    return this.upstream.fetchMany(keys);
  }
}

/**
 * Base of iterators reading one upstream iterator. Owns the state layout every single-upstream op shares:
 * `{ ...the op's own fields, upstream: <upstream state> }`, own fields first, so states written
 * before this base existed restore unchanged. Restoring validates the op's fields, then restores the upstream, and
 * only then applies the op's fields, so the first problem in a state is reported from the outside in.
 */
export abstract class UnaryIterator<I, O> extends CheckpointableIterator<O> {
  constructor(
    node: PipelineNode<O>,
    /** The iterator this op reads from. */
    protected readonly upstream: CheckpointableIterator<I>,
  ) {
    super(node);
  }

  save(): JsonValue {
    return { ...this.saveOwn(), upstream: this.upstream.save() };
  }

  restore(state: JsonValue, blobs: BlobReader, path: string): void {
    const o = readObject(state, path);
    const apply = this.readOwn(o, blobs, path);
    this.upstream.restore(o.upstream, blobs, `${path}.upstream`);
    apply();
  }

  override dispose(): void {
    this.upstream.dispose();
  }

  /**
   * The next upstream element that `keep` accepts, disposing the ones it rejects; `null` at the end. `keep` is
   * called once per upstream element, in order.
   */
  protected async pullKept(keep: (item: Item<I>) => boolean): Promise<Item<I> | null> {
    for (;;) {
      const item = await this.upstream.pull();
      if (item === null) return null;
      if (keep(item)) return item;
      tf.dispose(item.value as tf.TensorContainer);
    }
  }

  /** This op's own fields of the saved state (none by default: the op keeps nothing between `pull()` calls). */
  protected saveOwn(): JsonObject {
    return {};
  }

  /**
   * Validate and read this op's own fields from `state` (the object also holding `upstream`), throwing
   * `StateFormatError` on a problem, without changing this iterator; return what applies them once the upstream
   * has been restored too.
   */
  protected readOwn(state: JsonObject, blobs: BlobReader, path: string): () => void {
    void [state, blobs, path];
    return () => undefined;
  }
}

/**
 * A pass-through iterator whose only state is one counter of upstream elements (take, skip, shard), saved as
 * `{ [counterField]: counter, upstream: ... }`.
 */
export abstract class CountingIterator<T> extends UnaryIterator<T, T> {
  /** The op's counter; what it counts is the subclass's to say. */
  protected counter = 0;

  constructor(
    node: PipelineNode<T>,
    upstream: CheckpointableIterator<T>,
    /** Name of the counter in the saved state (part of the on-disk layout). */
    private readonly counterField: string,
  ) {
    super(node, upstream);
  }

  protected override saveOwn(): JsonObject {
    return { [this.counterField]: this.counter };
  }

  /** The largest value the counter can reach (the op's count); a saved counter above it is refused. */
  protected counterLimit(): number {
    return Infinity;
  }

  protected override readOwn(state: JsonObject, _blobs: BlobReader, path: string): () => void {
    const counter = readInt(state[this.counterField], `${path}.${this.counterField}`);
    const limit = this.counterLimit();
    if (counter > limit) {
      throw new StateFormatError(`${path}.${this.counterField}: ${counter} exceeds ${limit}, the most ${this.node.describe()} can reach`);
    }
    return () => {
      this.counter = counter;
    };
  }
}
