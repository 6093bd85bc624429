import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../../errors';
import type { BlobReader } from '../blob';
import { StateFormatError } from '../errors';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { readArray, readObject } from '../state_fields';

/**
 * Elements of several pipelines side by side, as an array or a record (tf.data's `zip`, shortest wins). Every
 * member is read at every step, as tf.data does, so a member's position never depends on which one ended first.
 */
export class ZipNode extends PipelineNode<tf.TensorContainer> {
  readonly children: readonly PipelineNode<unknown>[];
  readonly addressable = false;

  constructor(
    readonly members: readonly PipelineNode<unknown>[],
    /** Record keys, or `null` for an array zip. */
    readonly keys: readonly string[] | null,
  ) {
    super();
    if (members.length === 0) throw new InvalidArgumentError('zip() needs at least one dataset.');
    this.children = members;
  }

  // The smallest known size; unknown when any member's size is unknown (tf.data would compute Math.min with null = 0).
  get size(): number | null {
    const sizes = this.members.map((m) => m.size);
    if (sizes.some((s) => s === null)) return null;
    return Math.min(...(sizes as number[]));
  }

  describe(): string {
    return this.keys === null ? `zip(array of ${this.members.length})` : `zip(record of ${this.keys.join(', ')})`;
  }

  createIterator(drawSeeds: boolean): CheckpointableIterator<tf.TensorContainer> {
    return new ZipIterator(this, this.members.map((m) => m.createIterator(drawSeeds)));
  }
}

class ZipIterator extends CheckpointableIterator<tf.TensorContainer> {
  constructor(
    private readonly zip: ZipNode,
    private readonly members: CheckpointableIterator<unknown>[],
  ) {
    super(zip);
  }

  async pull(): Promise<Item<tf.TensorContainer> | null> {
    const items = await Promise.all(this.members.map((m) => m.pull()));
    if (items.some((i) => i === null)) {
      tf.dispose(items.filter((i) => i !== null).map((i) => (i as Item<unknown>).value) as tf.TensorContainer[]);
      return null;
    }
    const values = items.map((i) => (i as Item<unknown>).value as tf.TensorContainer);
    if (this.zip.keys === null) return { value: values, key: null };
    const record: Record<string, tf.TensorContainer> = {};
    this.zip.keys.forEach((k, i) => (record[k] = values[i]));
    return { value: record, key: null };
  }

  save(): JsonValue {
    return { members: this.members.map((m) => m.save()) };
  }

  restore(state: JsonValue, blobs: BlobReader, path: string): void {
    const members = readArray(readObject(state, path).members, `${path}.members`);
    if (members.length !== this.members.length) {
      throw new StateFormatError(`${path}.members: state has ${members.length} members, the zip has ${this.members.length}`);
    }
    this.members.forEach((m, i) => m.restore(members[i], blobs, `${path}.members[${i}]`));
  }

  override dispose(): void {
    this.members.forEach((m) => m.dispose());
  }
}
