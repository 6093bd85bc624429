import { InvalidArgumentError } from '../../errors';
import type { BlobReader } from '../blob';
import { CheckpointableIterator, Item } from '../iterator';
import { BufferSlot, SlotBuffer } from '../item_buffer';
import { PipelineNode } from '../node';
import { SeedableRng, parseRngState } from '../rng';
import { JsonObject, readBool } from '../state_fields';
import { PassThroughNode, UnaryIterator } from './unary';

/**
 * Streaming shuffle with tf.data's exact random stream: the dataset RNG is `alea(seed)`; each new iterator draws
 * `seed2 = int32()` (plus another `int32()` when reshuffling each iteration) and uses `alea(String(seed2))` to pick
 * buffer slots, end markers included, exactly as tf.data's `ShuffleIterator` does. Without a seed, tf.data seeds
 * from the clock; we derive a fixed seed from the upstream pipeline's description so runs are reproducible.
 */
export class ShuffleNode<T> extends PassThroughNode<T> {
  private readonly rng: SeedableRng;
  private readonly seedLabel: string;

  constructor(
    upstream: PipelineNode<T>,
    readonly bufferSize: number,
    seed: string | number | undefined,
    readonly reshuffleEachIteration: boolean,
  ) {
    super(upstream);
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new InvalidArgumentError(`shuffle(${bufferSize}): bufferSize must be an integer >= 1.`);
    }
    const effectiveSeed = seed ?? defaultSeed(upstream);
    this.seedLabel = seed === undefined ? 'default' : JSON.stringify(seed);
    this.rng = new SeedableRng(effectiveSeed);
  }

  get size(): number | null {
    return this.upstream.size;
  }

  describe(): string {
    return `shuffle(bufferSize=${this.bufferSize}, seed=${this.seedLabel}, reshuffleEachIteration=${this.reshuffleEachIteration})`;
  }

  override datasetRng(): SeedableRng {
    return this.rng;
  }

  createIterator(drawSeeds: boolean): CheckpointableIterator<T> {
    // Draw before creating the upstream iterator: tf.data's shuffle iteratorFn draws first, then recurses.
    let seed2 = 0;
    if (drawSeeds) {
      seed2 = this.rng.int32();
      if (this.reshuffleEachIteration) seed2 += this.rng.int32();
    }
    return new ShuffleIterator(this, this.upstream.createIterator(drawSeeds), new SeedableRng(seed2.toString()));
  }
}

function defaultSeed(upstream: PipelineNode<unknown>): string {
  return `tfjs-resumable:${upstream.describe()}`;
}

class ShuffleIterator<T> extends UnaryIterator<T, T> {
  private readonly buffer: SlotBuffer<T>;
  private upstreamExhausted = false;

  constructor(
    private readonly shuffle: ShuffleNode<T>,
    upstream: CheckpointableIterator<T>,
    private rng: SeedableRng,
  ) {
    super(shuffle, upstream);
    this.buffer = new SlotBuffer(shuffle.upstream, shuffle.bufferSize);
  }

  async pull(): Promise<Item<T> | null> {
    const slots = await this.buffer.load();
    if (!this.upstreamExhausted) await this.refill(slots);
    while (slots.length > 0) {
      const chosen = excise(slots, Math.floor(this.rng.next() * slots.length));
      if (chosen === null) {
        this.upstreamExhausted = true;
      } else {
        // tf.data refills after every delivered element, even once the end was seen (adding end markers).
        await this.refill(slots);
        return this.buffer.resolve(chosen);
      }
    }
    return null;
  }

  private async refill(slots: BufferSlot<T>[]): Promise<void> {
    while (slots.length < this.shuffle.bufferSize) slots.push(await this.upstream.pull());
  }

  protected override saveOwn(): JsonObject {
    return {
      rng: { ...this.rng.state() },
      exhausted: this.upstreamExhausted,
      buffer: this.buffer.save(),
    };
  }

  protected override readOwn(state: JsonObject, blobs: BlobReader, path: string): () => void {
    const rngState = parseRngState(state.rng, `${path}.rng`);
    const exhausted = readBool(state.exhausted, `${path}.exhausted`);
    const applyBuffer = this.buffer.read(state.buffer, blobs, `${path}.buffer`);
    return () => {
      applyBuffer();
      this.upstreamExhausted = exhausted;
      this.rng = new SeedableRng(0);
      this.rng.setState(rngState);
    };
  }

  override dispose(): void {
    this.buffer.dispose();
    super.dispose();
  }
}

/** tf.data's `RingBuffer.shuffleExcise`: take slot `i`, move the last slot into its place. */
function excise<T>(slots: BufferSlot<T>[], i: number): BufferSlot<T> {
  const chosen = slots[i];
  const last = slots.pop() as BufferSlot<T>;
  if (i < slots.length) slots[i] = last;
  return chosen;
}
