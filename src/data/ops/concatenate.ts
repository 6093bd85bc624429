import type { BlobReader } from '../blob';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { readBool, readObject } from '../state_fields';

/** The elements of `first`, then those of `second`. Both iterators are created up front, as in tf.data. */
export class ConcatenateNode<T> extends PipelineNode<T> {
  readonly children: readonly PipelineNode<unknown>[];
  readonly addressable = false;

  constructor(
    readonly first: PipelineNode<T>,
    readonly second: PipelineNode<T>,
  ) {
    super();
    this.children = [first, second];
  }

  // tf.data's size rule.
  get size(): number | null {
    const a = this.first.size;
    const b = this.second.size;
    if (a === Infinity || b === Infinity) return Infinity;
    return a !== null && b !== null ? a + b : null;
  }

  describe(): string {
    return 'concatenate';
  }

  createIterator(drawSeeds: boolean): CheckpointableIterator<T> {
    const first = this.first.createIterator(drawSeeds);
    return new ConcatenateIterator(this, first, this.second.createIterator(drawSeeds));
  }
}

class ConcatenateIterator<T> extends CheckpointableIterator<T> {
  private onSecond = false;

  constructor(
    node: ConcatenateNode<T>,
    private readonly first: CheckpointableIterator<T>,
    private readonly second: CheckpointableIterator<T>,
  ) {
    super(node);
  }

  async pull(): Promise<Item<T> | null> {
    if (!this.onSecond) {
      const item = await this.first.pull();
      if (item !== null) return { value: item.value, key: null };
      this.onSecond = true;
    }
    const item = await this.second.pull();
    return item === null ? null : { value: item.value, key: null };
  }

  save(): JsonValue {
    return { onSecond: this.onSecond, first: this.first.save(), second: this.second.save() };
  }

  restore(state: JsonValue, blobs: BlobReader, path: string): void {
    const o = readObject(state, path);
    const onSecond = readBool(o.onSecond, `${path}.onSecond`);
    this.first.restore(o.first, blobs, `${path}.first`);
    this.second.restore(o.second, blobs, `${path}.second`);
    this.onSecond = onSecond;
  }

  override dispose(): void {
    this.first.dispose();
    this.second.dispose();
  }
}
