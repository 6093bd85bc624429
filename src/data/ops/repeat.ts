import type { BlobReader } from '../blob';
import { StateFormatError } from '../errors';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { readInt, readObject } from '../state_fields';
import { PassThroughNode } from './unary';

/**
 * The upstream `count` times (forever when `count` is missing or negative). Like tf.data, a new upstream
 * iterator is created lazily when the previous one ends, so a shuffle upstream reshuffles each repetition.
 */
export class RepeatNode<T> extends PassThroughNode<T> {
  constructor(
    upstream: PipelineNode<T>,
    readonly count: number | undefined,
  ) {
    super(upstream);
  }

  get endless(): boolean {
    return this.count === undefined || this.count === null || this.count < 0;
  }

  // tf.data's size rule.
  get size(): number | null {
    const s = this.upstream.size;
    if (s !== null && this.count !== undefined && this.count > 0) return s * this.count;
    if (this.count === 0) return 0;
    if (s !== null && this.endless) return Infinity;
    return null;
  }

  describe(): string {
    return `repeat(count=${this.endless ? 'forever' : this.count})`;
  }

  createIterator(): CheckpointableIterator<T> {
    return new RepeatIterator(this);
  }
}

// Not a UnaryIterator: the upstream iterator is replaced every repetition (and absent between them), so the state
// is `{ started, current }` rather than one fixed `upstream`.
class RepeatIterator<T> extends CheckpointableIterator<T> {
  /** Upstream iterators created so far (epochs started). */
  private started = 0;
  private current: CheckpointableIterator<T> | null = null;

  constructor(private readonly repeat: RepeatNode<T>) {
    super(repeat);
  }

  async pull(): Promise<Item<T> | null> {
    for (;;) {
      if (this.current === null) {
        if (!this.repeat.endless && this.started >= (this.repeat.count as number)) return null;
        this.current = this.repeat.upstream.createIterator(true);
        this.started++;
      }
      const item = await this.current.pull();
      if (item !== null) return item;
      this.current.dispose();
      this.current = null;
    }
  }

  save(): JsonValue {
    return { started: this.started, current: this.current === null ? null : this.current.save() };
  }

  restore(state: JsonValue, blobs: BlobReader, path: string): void {
    const o = readObject(state, path);
    const started = readInt(o.started, `${path}.started`);
    if (!this.repeat.endless && started > (this.repeat.count as number)) {
      throw new StateFormatError(`${path}.started: ${started} repetitions started, but the pipeline repeats ${this.repeat.count} times`);
    }
    let current: CheckpointableIterator<T> | null = null;
    if (o.current !== null) {
      if (started === 0) throw new StateFormatError(`${path}.current: an epoch is in progress but none was started`);
      current = this.repeat.upstream.createIterator(false);
      current.restore(o.current, blobs, `${path}.current`);
    }
    this.current?.dispose();
    this.current = current;
    this.started = started;
  }

  override dispose(): void {
    this.current?.dispose();
    this.current = null;
  }
}
