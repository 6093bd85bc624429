import * as tf from '@tensorflow/tfjs';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import { CountingIterator, PassThroughNode } from './unary';

/** Drops the first `count` elements (disposing them); a negative count skips nothing, as tf.data's iterator. */
export class SkipNode<T> extends PassThroughNode<T> {
  constructor(
    upstream: PipelineNode<T>,
    readonly count: number,
  ) {
    super(upstream);
  }

  // tf.data's size rule, copied as is.
  get size(): number | null {
    const s = this.upstream.size;
    if (s !== null && this.count >= 0 && s >= this.count) return s - this.count;
    if (s !== null && (s < this.count || this.count < 0)) return 0;
    return null;
  }

  describe(): string {
    return `skip(count=${this.count})`;
  }

  createIterator(drawSeeds: boolean): CheckpointableIterator<T> {
    return new SkipIterator(this, this.upstream.createIterator(drawSeeds));
  }
}

// The counter is the number of upstream elements dropped so far, saved as `skipped`.
class SkipIterator<T> extends CountingIterator<T> {
  constructor(
    private readonly skip: SkipNode<T>,
    upstream: CheckpointableIterator<T>,
  ) {
    super(skip, upstream, 'skipped');
  }

  protected override counterLimit(): number {
    return Math.max(0, this.skip.count);
  }

  async pull(): Promise<Item<T> | null> {
    while (this.counter < this.skip.count) {
      this.counter++;
      const dropped = await this.upstream.pull();
      if (dropped === null) return null;
      tf.dispose(dropped.value as tf.TensorContainer);
    }
    return this.upstream.pull();
  }
}
