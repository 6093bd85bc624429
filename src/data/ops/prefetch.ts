import { InvalidArgumentError } from '../../errors';
import type { BlobReader } from '../blob';
import { StateFormatError } from '../errors';
import { CheckpointableIterator, Item } from '../iterator';
import { SlotBuffer } from '../item_buffer';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { JsonObject, readObject } from '../state_fields';
import { PassThroughNode, UnaryIterator } from './unary';

/**
 * Reads up to `bufferSize` elements ahead. Elements are the upstream's, in the same order. Reads complete before
 * `next()` resolves, so a state can be saved between any two `next()` calls. The buffer is saved as source
 * positions when its elements have them; over other replayable upstreams (batches) as the upstream position it was
 * filled from; materialized only over a non-replayable generator.
 */
export class PrefetchNode<T> extends PassThroughNode<T> {
  constructor(
    upstream: PipelineNode<T>,
    readonly bufferSize: number,
  ) {
    super(upstream);
    if (bufferSize == null) throw new RangeError('`Dataset.prefetch()` requires bufferSize to be specified.');
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new InvalidArgumentError(`prefetch(${bufferSize}): bufferSize must be an integer >= 1.`);
    }
  }

  get size(): number | null {
    return this.upstream.size;
  }

  describe(): string {
    return `prefetch(bufferSize=${this.bufferSize})`;
  }

  createIterator(drawSeeds: boolean): CheckpointableIterator<T> {
    return new PrefetchIterator(this, this.upstream.createIterator(drawSeeds));
  }
}

class PrefetchIterator<T> extends UnaryIterator<T, T> {
  private readonly buffer: SlotBuffer<T>;
  /**
   * True when buffered elements have no keys (batches, zips) but the upstream can be replayed: the state is then
   * the upstream's position before the first buffered element, and a restore reads those elements again, instead
   * of storing them (12 MB for prefetch(64) of 64-row batches).
   */
  private readonly replays: boolean;
  /** Upstream positions taken before pulling each of the last `before.length` buffered slots (when `replays`). */
  private before: JsonValue[] = [];

  constructor(
    private readonly prefetch: PrefetchNode<T>,
    upstream: CheckpointableIterator<T>,
  ) {
    super(prefetch, upstream);
    this.buffer = new SlotBuffer(prefetch.upstream, prefetch.bufferSize);
    this.replays = !prefetch.upstream.addressable && prefetch.upstream.replayable;
  }

  async pull(): Promise<Item<T> | null> {
    const slots = await this.buffer.load();
    while (slots.length < this.prefetch.bufferSize && slots[slots.length - 1] !== null) {
      if (this.replays) this.before.push(this.upstream.save());
      slots.push(await this.upstream.pull());
    }
    const head = slots[0];
    // The end marker stays, so later pulls keep returning the end.
    if (head !== null) {
      if (this.before.length === slots.length) this.before.shift();
      slots.shift();
    }
    return this.buffer.resolve(head);
  }

  override save(): JsonValue {
    // Slots restored from a format-1 state have no snapshot before them: those are saved as they were.
    if (this.replays && this.before.length === this.buffer.loadedCount()) {
      return { buffer: { replay: true }, upstream: this.before[0] ?? this.upstream.save() };
    }
    return super.save();
  }

  protected override saveOwn(): JsonObject {
    return { buffer: this.buffer.save() };
  }

  protected override readOwn(state: JsonObject, blobs: BlobReader, path: string): () => void {
    const buffer = readObject(state.buffer, `${path}.buffer`);
    if ('replay' in buffer) {
      if (buffer.replay !== true) throw new StateFormatError(`${path}.buffer.replay: expected true, got ${JSON.stringify(buffer.replay)}`);
      if (!this.replays) throw new StateFormatError(`${path}.buffer: saved as a position to replay from, but this upstream cannot be replayed`);
      return () => {
        this.buffer.clear();
        this.before = [];
      };
    }
    const apply = this.buffer.read(state.buffer, blobs, `${path}.buffer`);
    return () => {
      apply();
      this.before = [];
    };
  }

  override dispose(): void {
    this.buffer.dispose();
    super.dispose();
  }
}
