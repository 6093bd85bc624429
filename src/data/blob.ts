import { StateFormatError } from './errors';
import type { JsonValue } from './state';
import { readInt, readObject } from './state_fields';

/**
 * Resolves the binary segments of a format-1 state (its `blob`, referenced from the JSON by offset and length),
 * with bounds checks. Format-2 states carry no blob (their binary parts are base64 strings inside the JSON), so
 * they are read with an empty reader, and a blob reference in them is refused.
 */
export class BlobReader {
  constructor(private readonly blob: Uint8Array | undefined) {}

  /** The segment referenced by `ref`; `StateFormatError` when the reference is malformed or out of bounds. */
  get(ref: JsonValue | undefined, path: string): Uint8Array {
    const r = readObject(ref, path);
    const o = readInt(r.o, `${path}.o`);
    const n = readInt(r.n, `${path}.n`);
    const size = this.blob?.byteLength ?? 0;
    if (o + n > size) {
      throw new StateFormatError(`${path}: blob segment [${o}, ${o + n}) lies outside the state's blob of ${size} bytes`);
    }
    return this.blob === undefined ? new Uint8Array(0) : this.blob.subarray(o, o + n);
  }
}
