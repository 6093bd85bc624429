import CRC32 from 'crc-32';
import { StateFormatError } from './errors';
import type { DatasetState, JsonValue } from './state';

/** First bytes of every encoded dataset state ("TFRD"): the CLI recognizes a state blob by them. */
export const DATASET_STATE_MAGIC: readonly number[] = [0x54, 0x46, 0x52, 0x44];
const MAGIC = DATASET_STATE_MAGIC;
const FRAME_VERSION = 1;

/**
 * Frame a `DatasetState` as bytes: "TFRD", frame version (u8), JSON length (u32 LE), JSON of everything but the
 * blob, blob length (u32 LE), blob, CRC-32 of all preceding bytes (u32 LE).
 */
export function encodeDatasetState(state: DatasetState): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({ formatVersion: state.formatVersion, fingerprint: state.fingerprint, dataset: state.dataset, iterator: state.iterator }),
  );
  const blob = state.blob ?? new Uint8Array(0);
  const out = new Uint8Array(4 + 1 + 4 + json.byteLength + 4 + blob.byteLength + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FRAME_VERSION;
  view.setUint32(5, json.byteLength, true);
  out.set(json, 9);
  view.setUint32(9 + json.byteLength, blob.byteLength, true);
  out.set(blob, 13 + json.byteLength);
  view.setUint32(out.byteLength - 4, CRC32.buf(out.subarray(0, out.byteLength - 4)) >>> 0, true);
  return out;
}

/**
 * Parse bytes written by `encodeDatasetState`, checking magic, lengths, checksum and field types. Throws
 * `StateFormatError` describing the first problem. (Op-level contents are validated by `restoreState`.)
 */
export function decodeDatasetState(bytes: Uint8Array): DatasetState {
  const fail = (why: string): never => {
    throw new StateFormatError(`Not a valid encoded dataset state: ${why}`);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected a Uint8Array');
  if (bytes.byteLength < 17) fail(`only ${bytes.byteLength} bytes`);
  if (MAGIC.some((m, i) => bytes[i] !== m)) fail('missing the "TFRD" magic bytes');
  if (bytes[4] > FRAME_VERSION) fail(`frame version ${bytes[4]} is newer than ${FRAME_VERSION}; upgrade tfjs-resumable`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bytes.byteLength - 4, true);
  const actual = CRC32.buf(bytes.subarray(0, bytes.byteLength - 4)) >>> 0;
  if (stored !== actual) fail(`checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}): truncated or corrupted`);
  const jsonLength = view.getUint32(5, true);
  if (9 + jsonLength + 4 + 4 > bytes.byteLength) fail(`JSON length ${jsonLength} exceeds the ${bytes.byteLength} bytes`);
  const blobLength = view.getUint32(9 + jsonLength, true);
  if (13 + jsonLength + blobLength + 4 !== bytes.byteLength) fail(`blob length ${blobLength} does not match the ${bytes.byteLength} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(9, 9 + jsonLength)));
  } catch (e) {
    return fail(`JSON part does not parse (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('JSON part is not an object');
  const o = parsed as { [k: string]: JsonValue };
  if (typeof o.formatVersion !== 'number' || !Number.isInteger(o.formatVersion) || o.formatVersion < 1) fail('formatVersion is not a positive integer');
  if (typeof o.fingerprint !== 'string') fail('fingerprint is not a string');
  if (o.dataset === null || typeof o.dataset !== 'object') fail('dataset is not an object');
  if (!('iterator' in o)) fail('iterator is missing');
  const state: DatasetState = {
    formatVersion: o.formatVersion as number,
    fingerprint: o.fingerprint as string,
    dataset: o.dataset,
    iterator: o.iterator,
  };
  if (blobLength > 0) state.blob = bytes.slice(13 + jsonLength, 13 + jsonLength + blobLength);
  return state;
}
