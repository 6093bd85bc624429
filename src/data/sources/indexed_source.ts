import type { BlobReader } from '../blob';
import { StateFormatError } from '../errors';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { readInt, readObject } from '../state_fields';

/**
 * A source whose elements are addressed by index 0..length-1 (range, array, tensorSlices): its state is one
 * cursor, and any element can be recomputed from its index.
 */
export abstract class IndexedSourceNode<T> extends PipelineNode<T> {
  readonly children: readonly PipelineNode<unknown>[] = [];
  readonly addressable = true;

  /** Number of elements. */
  abstract readonly length: number;

  /** The element at `index` (a fresh copy: tensors are new tensors the consumer owns). */
  abstract elementAt(index: number): T;

  get size(): number {
    return this.length;
  }

  override get randomAccess(): boolean {
    return true;
  }

  override get keyLimit(): number {
    return this.length;
  }

  createIterator(): CheckpointableIterator<T> {
    return new IndexedSourceIterator(this);
  }

  override fetchMany(keys: readonly number[]): Promise<T[]> {
    return Promise.resolve(keys.map((k) => this.elementAt(k)));
  }
}

/** Walks an `IndexedSourceNode` with a cursor. */
class IndexedSourceIterator<T> extends CheckpointableIterator<T> {
  private cursor = 0;

  constructor(private readonly source: IndexedSourceNode<T>) {
    super(source);
  }

  pull(): Promise<Item<T> | null> {
    if (this.cursor >= this.source.length) return Promise.resolve(null);
    const key = this.cursor++;
    return Promise.resolve({ value: this.source.elementAt(key), key });
  }

  save(): JsonValue {
    return { cursor: this.cursor };
  }

  restore(state: JsonValue, _blobs: BlobReader, path: string): void {
    const cursor = readInt(readObject(state, path).cursor, `${path}.cursor`);
    if (cursor > this.source.length) {
      throw new StateFormatError(`${path}.cursor: ${cursor} is past the end of a source of ${this.source.length} elements`);
    }
    this.cursor = cursor;
  }
}
