import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import { CountingIterator, PassThroughNode } from './unary';

/** The first `count` elements; a negative or missing count takes everything (tf.data's iterator rule). */
export class TakeNode<T> extends PassThroughNode<T> {
  constructor(
    upstream: PipelineNode<T>,
    readonly count: number,
  ) {
    super(upstream);
  }

  get size(): number | null {
    const s = this.upstream.size;
    if (s === null) return null;
    // tf.data would report a negative size for a negative count, which takes everything; we report the truth.
    if (this.count < 0) return s;
    return s > this.count ? this.count : s;
  }

  describe(): string {
    return `take(count=${this.count})`;
  }

  createIterator(drawSeeds: boolean): CheckpointableIterator<T> {
    return new TakeIterator(this, this.upstream.createIterator(drawSeeds));
  }
}

// The counter is the number of elements asked of the upstream so far, saved as `taken`.
class TakeIterator<T> extends CountingIterator<T> {
  constructor(
    private readonly take: TakeNode<T>,
    upstream: CheckpointableIterator<T>,
  ) {
    super(take, upstream, 'taken');
  }

  protected override counterLimit(): number {
    return this.take.count >= 0 ? this.take.count : Infinity;
  }

  pull(): Promise<Item<T> | null> {
    const limit = this.take.count;
    if (limit >= 0 && this.counter >= limit) return Promise.resolve(null);
    this.counter++;
    return this.upstream.pull();
  }
}
