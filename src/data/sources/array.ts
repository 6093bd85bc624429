import * as tf from '@tensorflow/tfjs';
import CRC32 from 'crc-32';
import { IndexedSourceNode } from './indexed_source';
import { arrayContentHash, type InMemorySourceOptions } from './memory_content_hash';

/** The items of an in-memory array, in order. Tensor items are cloned for each read, as tf.data does. */
export class ArrayNode<T> extends IndexedSourceNode<T> {
  private identity: string | null = null;

  constructor(
    private readonly items: readonly T[],
    private readonly options: InMemorySourceOptions = {},
  ) {
    super();
  }

  get length(): number {
    return this.items.length;
  }

  elementAt(index: number): T {
    return cloneTensors(this.items[index]);
  }

  describe(): string {
    this.identity ??= arrayIdentity(this.items, this.options.verifyContent ?? true);
    return `array(${this.identity})`;
  }
}

/**
 * Length plus a hash of the values, computed once per dataset: a CRC-32 of the JSON when all items are primitives
 * (the form states have carried since 0.1.0), else a content hash of objects and tensors. `verifyContent: false`
 * leaves the length only.
 */
function arrayIdentity(items: readonly unknown[], verifyContent: boolean): string {
  if (!verifyContent) return `length=${items.length}`;
  const primitive = items.every((x) => x === null || ['number', 'string', 'boolean'].includes(typeof x));
  if (!primitive) return `length=${items.length}, content=${arrayContentHash(items)}`;
  const crc = CRC32.str(JSON.stringify(items)) >>> 0;
  return `length=${items.length}, crc32=${crc.toString(16).padStart(8, '0')}`;
}

/** Deep copy of the tensors inside `value` (the rest is shared), so consumers may dispose what they get. */
export function cloneTensors<T>(value: T): T {
  if (value instanceof tf.Tensor) return tf.clone(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => cloneTensors(v)) as unknown as T;
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = cloneTensors(v);
    return out as T;
  }
  return value;
}
