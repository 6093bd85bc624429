import { createHash, type Hash } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { sampledBytesHash } from './sampled_bytes_hash';

/**
 * Options of the in-memory sources (`data.array`, `data.tensorSlices`).
 */
export interface InMemorySourceOptions {
  /**
   * Put a hash of the values into the pipeline fingerprint (default `true`), so a state saved over other values of
   * the same length is refused with `PipelineMismatchError` instead of resuming at positions that now mean other
   * elements. `false` when the values change between runs on purpose (e.g. re-augmented each run): the source is
   * then identified by its length (and tensor shapes) only, and it also skips the hashing cost.
   */
  verifyContent?: boolean;
}

/** Arrays up to this many elements are hashed whole; longer ones by evenly spaced samples (first and last included). */
export const ARRAY_FULL_HASH_LIMIT = 100_000;
const ARRAY_SAMPLES = 4096;

/**
 * Identity of the values of an in-memory array of objects, arrays or tensors, for the pipeline fingerprint: a
 * SHA-256 of a canonical encoding (tensors by dtype, shape and values; typed arrays by type and bytes; objects by
 * sorted keys), over every element up to {@link ARRAY_FULL_HASH_LIMIT}, else over the length and 4096 sampled
 * elements (`sampled-sha256:`), so a dataset over millions of records is still cheap to build.
 */
export function arrayContentHash(items: readonly unknown[]): string {
  const out = new BufferedHash(createHash('sha256'));
  const sampled = items.length > ARRAY_FULL_HASH_LIMIT;
  if (!sampled) for (const item of items) feedValue(out, item);
  else {
    out.add(`length=${items.length};`);
    for (let i = 0; i < ARRAY_SAMPLES; i++) feedValue(out, items[Math.floor(((items.length - 1) * i) / (ARRAY_SAMPLES - 1))]);
  }
  out.flush();
  return `${sampled ? 'sampled-' : ''}sha256:${out.hash.digest('hex').slice(0, 32)}`;
}

/**
 * Identity of the values of the tensors a `tensorSlices` source reads, in order: each tensor's bytes by the rule
 * files use (whole up to 8 MiB, else 128 sampled 64 KiB chunks), combined into one hash. `values` are the host
 * copies the source keeps anyway (read once), so hashing costs no extra read from the backend.
 */
export function tensorsContentHash(values: readonly (tf.TypedArray | Uint8Array[])[]): string {
  const parts = values.map((v) => {
    const bytes = Array.isArray(v) ? concatStrings(v) : bytesOf(v);
    return sampledBytesHash(bytes.length, (position, length) => bytes.subarray(position, position + length));
  });
  if (parts.length === 1) return parts[0];
  const sampled = parts.some((p) => p.startsWith('sampled-'));
  return `${sampled ? 'sampled-' : ''}sha256:${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32)}`;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A string tensor's values (tfjs keeps them as UTF-8 byte arrays), each prefixed by its length. */
function concatStrings(strings: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(strings.reduce((n, s) => n + 4 + s.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const s of strings) {
    view.setUint32(offset, s.length, true);
    out.set(s, offset + 4);
    offset += 4 + s.length;
  }
  return out;
}

/**
 * Feeds a hash with text in 64 KiB pieces: one `update` per small value made hashing 100,000 records cost 400 ms,
 * the call overhead dwarfing the bytes.
 */
class BufferedHash {
  private text = '';

  constructor(readonly hash: Hash) {}

  add(text: string): void {
    this.text += text;
    if (this.text.length >= 1 << 16) this.flush();
  }

  addBytes(bytes: Uint8Array): void {
    this.flush();
    this.hash.update(bytes);
  }

  flush(): void {
    if (this.text.length > 0) this.hash.update(this.text);
    this.text = '';
  }
}

/** Canonical, unambiguous encoding of one element: every value carries its kind, containers their bounds. */
function feedValue(out: BufferedHash, value: unknown): void {
  if (value instanceof tf.Tensor) {
    out.add(`T${value.dtype}[${value.shape.join(',')}]`);
    const data = value.dataSync() as tf.TypedArray | Uint8Array[];
    out.addBytes(Array.isArray(data) ? concatStrings(data) : bytesOf(data));
  } else if (ArrayBuffer.isView(value)) {
    out.add(`A${value.constructor.name}:${value.byteLength}:`);
    out.addBytes(bytesOf(value));
  } else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number')) {
    // A plain array of numbers (a feature vector) by its float64 bytes in one piece: per-number text made hashing
    // 50,000 records of 128 numbers take 400 ms.
    out.add(`N${value.length}:`);
    out.addBytes(new Uint8Array(Float64Array.from(value as number[]).buffer));
  } else if (Array.isArray(value)) {
    out.add('[');
    for (const v of value) feedValue(out, v);
    out.add(']');
  } else if (value !== null && typeof value === 'object') {
    out.add('{');
    for (const key of Object.keys(value).sort()) {
      out.add(`${JSON.stringify(key)}:`);
      feedValue(out, (value as Record<string, unknown>)[key]);
    }
    out.add('}');
  } else {
    out.add(typeof value === 'string' ? `s${JSON.stringify(value)};` : `${typeof value}:${String(value)};`);
  }
}
