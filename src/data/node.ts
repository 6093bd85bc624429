import { InvalidArgumentError } from '../errors';
import type { CheckpointableIterator } from './iterator';
import type { SeedableRng } from './rng';

/**
 * One step of a pipeline plan (a source or an op): knows its size, how to describe itself for the pipeline
 * fingerprint, how to create iterators and, when addressable, how to recompute elements from their keys.
 */
export abstract class PipelineNode<T> {
  /** Number of elements (`Infinity` for endless, `null` when unknown), by tf.data's rules. */
  abstract readonly size: number | null;
  /** Upstream nodes, in the order their iterators are created. */
  abstract readonly children: readonly PipelineNode<unknown>[];
  /**
   * True when `fetchMany` can recompute any element from its key (source position), so buffers can save keys
   * instead of elements: sources that can be re-read and element-wise ops over them.
   */
  abstract readonly addressable: boolean;

  /**
   * True when `fetchMany` of one key costs about one element (an index or a byte offset to seek to), so a buffer
   * restored from keys recomputes each element only when it is delivered. False where a fetch replays a stream
   * (a replayable generator): such buffers are recomputed in one pass. Only meaningful when `addressable`.
   */
  get randomAccess(): boolean {
    return false;
  }

  /**
   * True when a fresh iterator restored to a saved position yields the same elements again: every source below
   * can be re-read. Lets a buffer over elements that have no key (batches) save the position it was filled from
   * instead of the elements.
   */
  get replayable(): boolean {
    return this.children.every((c) => c.replayable);
  }

  /** Keys of this node's elements are below this bound (the source length or file size); for validating states. */
  get keyLimit(): number {
    return Infinity;
  }

  /** Op name and arguments, e.g. `shuffle(bufferSize=100, seed=7, reshuffleEachIteration=true)`. */
  abstract describe(): string;

  /**
   * A new iterator at the start. `drawSeeds` false skips drawing shuffle seeds from dataset RNGs, for iterators
   * whose state is about to be restored (their seeds are part of that state).
   */
  abstract createIterator(drawSeeds: boolean): CheckpointableIterator<T>;

  /** Recompute the elements at `keys` (only when `addressable`). Must be deterministic. */
  fetchMany(keys: readonly number[]): Promise<T[]> {
    void keys;
    return Promise.reject(new InvalidArgumentError(`${this.describe()} cannot recompute elements from positions.`));
  }

  /** This node's dataset-level RNG (shuffle only), saved with the dataset. */
  datasetRng(): SeedableRng | null {
    return null;
  }
}

/** Every node reachable from `root`, pre-order, each once. */
export function walkNodes(root: PipelineNode<unknown>): PipelineNode<unknown>[] {
  const seen = new Set<PipelineNode<unknown>>();
  const out: PipelineNode<unknown>[] = [];
  const visit = (n: PipelineNode<unknown>): void => {
    if (seen.has(n)) return;
    seen.add(n);
    out.push(n);
    n.children.forEach(visit);
  };
  visit(root);
  return out;
}
