import { CorruptCheckpointError } from '../errors';
import type { JsonValue } from '../data/state';
import { isJsonObject } from './safe_json';

/** The dtypes a checkpoint stores; anything else in a manifest is refused. */
export type CheckpointDtype = 'float32' | 'int32';

/** Name, dtype and shape of one stored tensor: tfjs's `WeightsManifestEntry` without extras. */
export interface TensorSpec {
  /**
   * What the tensor is: a model weight's `originalName`, an optimizer weight's name, or the property
   * name of a hidden optimizer variable.
   */
  name: string;
  /** Element type; both use 4 bytes per element. */
  dtype: CheckpointDtype;
  /** Dimensions (rank at most 8 when read back); `[]` for a scalar. */
  shape: number[];
}

/** A tensor copied off the backend: owned bytes, safe to write while training continues. */
export interface TensorData extends TensorSpec {
  /** The values in row-major order, as many as the shape's product: `Float32Array` for float32, `Int32Array` for int32. */
  data: Float32Array | Int32Array;
}

const MAX_RANK = 8;
const MAX_NAME_LENGTH = 1024;

/**
 * Validates tensor specs read from a file and checks, before anything is allocated, that together they
 * need exactly `availableBytes`: a manifest claiming a 100 GB tensor is refused here, not by running out
 * of memory. Returns the specs typed.
 */
export function validateSpecs(raw: JsonValue | undefined, availableBytes: number, what: string): TensorSpec[] {
  if (!Array.isArray(raw)) throw new CorruptCheckpointError(`${what}: the tensor list is not an array.`);
  const specs: TensorSpec[] = [];
  let total = 0;
  raw.forEach((entry, i) => {
    const bad = (why: string): never => {
      throw new CorruptCheckpointError(`${what}: tensor #${i} ${why}.`);
    };
    if (!isJsonObject(entry)) return bad('is not an object');
    const { name, dtype, shape } = entry;
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) bad('has no valid name');
    if (dtype !== 'float32' && dtype !== 'int32') {
      bad(`(${String(name)}) has dtype ${JSON.stringify(dtype)}; only "float32" and "int32" are stored`);
    }
    if (!Array.isArray(shape) || shape.length > MAX_RANK) bad(`(${String(name)}) has no valid shape (rank <= ${MAX_RANK})`);
    let elements = 1;
    for (const d of shape as JsonValue[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        bad(`(${String(name)}) has shape ${JSON.stringify(shape)} with an invalid dimension`);
      }
      elements *= d as number;
    }
    total += elements * 4;
    if (!Number.isSafeInteger(total) || total > availableBytes) {
      bad(
        `(${String(name)}, shape ${JSON.stringify(shape)}) needs ${elements * 4} bytes, beyond the ` +
          `${availableBytes} bytes of data present`,
      );
    }
    specs.push({ name: name as string, dtype: dtype as CheckpointDtype, shape: (shape as number[]).slice() });
  });
  if (total !== availableBytes) {
    throw new CorruptCheckpointError(
      `${what}: the tensors need ${total} bytes but ${availableBytes} bytes of data are present.`,
    );
  }
  return specs;
}

/**
 * The tensors' bytes as one view when they lie back to back in one buffer (as a snapshot packs them),
 * else `undefined`.
 */
export function packedView(tensors: TensorData[]): Uint8Array | undefined {
  if (tensors.length === 0) return new Uint8Array(0);
  const buffer = tensors[0].data.buffer;
  let expected = tensors[0].data.byteOffset;
  const packed = tensors.every((t) => {
    const ok = t.data.buffer === buffer && t.data.byteOffset === expected;
    expected += t.data.byteLength;
    return ok;
  });
  return packed ? new Uint8Array(buffer, tensors[0].data.byteOffset, expected - tensors[0].data.byteOffset) : undefined;
}

/** Concatenates tensor data as tfjs stores weights: each tensor's little-endian elements, in order. */
export function concatTensorData(tensors: TensorData[]): Uint8Array {
  // Snapshots pack their tensors back to back in one buffer already: hand that out without a copy.
  const packed = packedView(tensors);
  if (packed !== undefined) return packed;
  const out = new Uint8Array(tensors.reduce((sum, t) => sum + t.data.byteLength, 0));
  let offset = 0;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    offset += t.data.byteLength;
  }
  return out;
}

/**
 * Splits concatenated data back into tensors following validated specs. Each tensor is a view into `bytes`
 * where its start is 4-byte aligned (no copy: a restore reads hundreds of MB), else an aligned copy; the
 * caller hands over `bytes` (it must not change them afterwards).
 */
export function splitTensorData(specs: TensorSpec[], bytes: Uint8Array): TensorData[] {
  let offset = 0;
  return specs.map((spec) => {
    const elements = spec.shape.reduce((a, b) => a * b, 1);
    const start = bytes.byteOffset + offset;
    offset += elements * 4;
    const [buffer, byteOffset] =
      start % 4 === 0 ? [bytes.buffer, start] : [bytes.slice(offset - elements * 4, offset).buffer, 0];
    const data = spec.dtype === 'int32' ? new Int32Array(buffer, byteOffset, elements) : new Float32Array(buffer, byteOffset, elements);
    return { ...spec, data };
  });
}

/** Specs of tensors, as JSON (for manifests and headers). */
export function specsToJson(tensors: TensorSpec[]): JsonValue[] {
  return tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype }));
}
