import * as tf from '@tensorflow/tfjs';
import type { BlobReader } from '../blob';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { readBool, readInt, readObject } from '../state_fields';

/** What `generator()` accepts: a function returning a (sync or async) iterator, like tf.data's `generator`. */
export type GeneratorFn<T> = () => Iterator<T> | AsyncIterator<T> | Promise<Iterator<T> | AsyncIterator<T>>;

/** Options of `generator()`. */
export interface GeneratorOptions {
  /**
   * True (default): calling `fn` again yields the same elements in the same order, so a restore re-runs it and
   * skips what was already read, and buffered elements are recomputed by re-running it. False: the stream cannot
   * be replayed (a queue, a socket); a restore calls `fn` once more and continues with whatever it yields next,
   * and elements sitting in shuffle/prefetch buffers are materialized in the state's binary blob.
   */
  replayable?: boolean;
}

/** Elements produced by a user function. The key of an element is its ordinal in the stream. */
export class GeneratorNode<T> extends PipelineNode<T> {
  readonly children: readonly PipelineNode<unknown>[] = [];
  readonly size = null;
  private readonly replays: boolean;

  constructor(
    readonly fn: GeneratorFn<T>,
    options: GeneratorOptions = {},
  ) {
    super();
    this.replays = options.replayable ?? true;
  }

  /** Whether calling `fn` again yields the same stream (the `replayable` option). */
  override get replayable(): boolean {
    return this.replays;
  }

  get addressable(): boolean {
    return this.replays;
  }

  describe(): string {
    return `generator(replayable=${this.replayable})`;
  }

  createIterator(): CheckpointableIterator<T> {
    return new GeneratorIterator(this);
  }

  /** Re-run the generator once, keeping the elements at `keys`. */
  override async fetchMany(keys: readonly number[]): Promise<T[]> {
    if (keys.length === 0) return [];
    const wanted = new Map<number, number[]>();
    keys.forEach((k, i) => wanted.set(k, [...(wanted.get(k) ?? []), i]));
    const last = Math.max(...keys);
    const out: T[] = new Array<T>(keys.length);
    const it = await this.fn();
    for (let ordinal = 0; ordinal <= last; ordinal++) {
      const r = await it.next();
      if (r.done) break;
      const slots = wanted.get(ordinal);
      if (slots === undefined) tf.dispose(r.value as tf.TensorContainer);
      else for (const s of slots) out[s] = r.value;
    }
    return out;
  }
}

class GeneratorIterator<T> extends CheckpointableIterator<T> {
  private source: Iterator<T> | AsyncIterator<T> | null = null;
  private delivered = 0;
  private ended = false;
  /** Elements to skip when the source is (re)started: what was delivered before a restore. */
  private skipOnStart = 0;

  constructor(private readonly generator: GeneratorNode<T>) {
    super(generator);
  }

  async pull(): Promise<Item<T> | null> {
    if (this.ended) return null;
    if (this.source === null) {
      this.source = await this.generator.fn();
      for (; this.skipOnStart > 0; this.skipOnStart--) {
        const r = await this.source.next();
        if (r.done) {
          this.ended = true;
          return null;
        }
        tf.dispose(r.value as tf.TensorContainer);
      }
    }
    const r = await this.source.next();
    if (r.done) {
      this.ended = true;
      return null;
    }
    return { value: r.value, key: this.delivered++ };
  }

  save(): JsonValue {
    return { delivered: this.delivered, ended: this.ended };
  }

  restore(state: JsonValue, _blobs: BlobReader, path: string): void {
    const o = readObject(state, path);
    const delivered = readInt(o.delivered, `${path}.delivered`);
    const ended = readBool(o.ended, `${path}.ended`);
    this.source = null;
    this.delivered = delivered;
    this.ended = ended;
    this.skipOnStart = this.generator.replayable ? delivered : 0;
  }
}
