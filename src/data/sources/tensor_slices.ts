import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../../errors';
import { IndexedSourceNode } from './indexed_source';
import { tensorsContentHash, type InMemorySourceOptions } from './memory_content_hash';

/** Element type of `tensorSlices`: one tensor, or a record of tensors, sliced along the first axis. */
export type TensorSliceElement<S> = S extends tf.Tensor ? tf.Tensor : { [K in keyof S]: tf.Tensor };

/**
 * Slices of a tensor (or of each tensor of a record) along the first axis, like TF's `from_tensor_slices`.
 * The tensors stay owned by the caller and must outlive the dataset.
 */
export class TensorSlicesNode<S extends tf.Tensor | Record<string, tf.Tensor>> extends IndexedSourceNode<TensorSliceElement<S>> {
  readonly length: number;
  private readonly entries: [string | null, tf.Tensor][];
  private readonly host: (tf.TypedArray | undefined)[] = [];
  private identity: string | null = null;

  constructor(
    source: S,
    private readonly options: InMemorySourceOptions = {},
  ) {
    super();
    this.entries = source instanceof tf.Tensor ? [[null, source]] : Object.entries(source).map(([k, t]) => [k, t] as [string, tf.Tensor]);
    if (this.entries.length === 0 || this.entries.some(([, t]) => !(t instanceof tf.Tensor) || t.rank === 0)) {
      throw new InvalidArgumentError('tensorSlices() needs a tensor of rank >= 1, or a non-empty record of such tensors.');
    }
    this.length = this.entries[0][1].shape[0];
    const bad = this.entries.find(([, t]) => t.shape[0] !== this.length);
    if (bad) {
      throw new InvalidArgumentError(`tensorSlices(): tensor "${bad[0]}" has ${bad[1].shape[0]} rows, the first has ${this.length}.`);
    }
  }

  elementAt(index: number): TensorSliceElement<S> {
    if (this.entries[0][0] === null) return this.row(0, index) as TensorSliceElement<S>;
    const out: Record<string, tf.Tensor> = {};
    this.entries.forEach(([k], i) => (out[k as string] = this.row(i, index)));
    return out as TensorSliceElement<S>;
  }

  /**
   * Row `index` of entry `i`, copied from a host copy of the source read once. `tensor.slice` would be
   * simpler, but the wasm backend's slice kernel copies the whole input out of the wasm heap on every call
   * (6 MB per row for 2,000 mnist digits: 15x slower training); rows of a host array cost only the row.
   */
  private row(i: number, index: number): tf.Tensor {
    const t = this.entries[i][1];
    const values = this.hostValues(i);
    if (values === null) return tf.tidy(() => t.slice([index], [1]).reshape(t.shape.slice(1)));
    const rowSize = t.size / this.length;
    // A copy, not a subarray: on cpu `dataSync` returns the source's own storage, which a row must not alias.
    return tf.tensor(values.slice(index * rowSize, (index + 1) * rowSize), t.shape.slice(1), t.dtype);
  }

  /** The values of entry `i` on the host, read on first use; `null` for dtypes kept on the slice path. */
  private hostValues(i: number): tf.TypedArray | null {
    const t = this.entries[i][1];
    if (t.dtype === 'string' || t.dtype === 'complex64') return null;
    this.host[i] ??= t.dataSync() as tf.TypedArray;
    return this.host[i];
  }

  /** Dtypes and shapes, plus a hash of the values (computed once) unless `verifyContent: false`. */
  describe(): string {
    if (this.identity !== null) return this.identity;
    const parts = this.entries.map(([k, t]) => `${k === null ? '' : `${k}:`}${t.dtype}[${t.shape.join(',')}]`);
    if (this.options.verifyContent ?? true) {
      parts.push(`content=${tensorsContentHash(this.entries.map(([, t], i) => this.hostValues(i) ?? (t.dataSync() as tf.TypedArray | Uint8Array[])))}`);
    }
    this.identity = `tensorSlices(${parts.join(', ')})`;
    return this.identity;
  }
}
