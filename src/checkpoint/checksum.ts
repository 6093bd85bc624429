import * as CRC32 from 'crc-32';
import * as zlib from 'zlib';
import { CorruptCheckpointError } from '../errors';
import type { HeadedContent } from './storage';

/** A CRC-32 (IEEE) implementation; `compute(data, previous)` continues a running checksum. */
export interface Crc32Implementation {
  readonly name: '@node-rs/crc32' | 'zlib' | 'crc-32';
  compute(data: Uint8Array, previous: number): number;
}

/** The part of `@node-rs/crc32` used here. */
export interface FoldedCrc32Module {
  crc32(input: Uint8Array, initialState?: number): number;
}

const requireFoldedCrc32 = (): FoldedCrc32Module => require('@node-rs/crc32') as FoldedCrc32Module;
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * The fastest CRC-32 this process can load. Every checkpoint file is checksummed on the writer's thread,
 * so for a 70 MB model zlib's CRC (~2 GB/s here) was a third of a save's latency:
 * - `@node-rs/crc32` (crc32fast: PCLMULQDQ / ARMv8 CRC folding, ~6 GB/s here);
 * - Node's zlib.crc32 (Node >= 20.15 / 22.2) where that package has no binary for the platform;
 * - the pure-JS crc-32 package otherwise.
 * All three compute the same IEEE CRC-32, so the choice never changes what is on disk. The arguments are
 * for tests that take a fallback.
 */
export function pickCrc32Implementation(
  loadFolded: () => FoldedCrc32Module = requireFoldedCrc32,
  zlibNative: ((data: Uint8Array, value?: number) => number) | null = zlibCrc32 ?? null,
): Crc32Implementation {
  try {
    const folded = loadFolded();
    return { name: '@node-rs/crc32', compute: (data, previous) => folded.crc32(data, previous) };
  } catch {
    // zlib's crc32() given a NULL buffer returns its initial value, 0, whatever the running CRC, and an
    // empty ArrayBuffer can have a NULL data pointer: an empty part would reset a file's running checksum.
    if (zlibNative) {
      return { name: 'zlib', compute: (data, previous) => (data.byteLength === 0 ? previous : zlibNative(data, previous)) };
    }
    return { name: 'crc-32', compute: (data, previous) => CRC32.buf(data, previous) };
  }
}

/** Picked once per process (and per worker thread). */
export const crc32Implementation = pickCrc32Implementation();

/**
 * CRC-32 (IEEE) of some bytes as an unsigned 32-bit integer.
 * `previous` continues a running checksum: `crc32(b, crc32(a))` is the CRC-32 of `a` followed by `b`, so
 * a file can be checksummed chunk by chunk while it is written.
 */
export function crc32(data: Uint8Array, previous = 0): number {
  return crc32Implementation.compute(data, previous) >>> 0;
}

/** CRC-32 of parts taken back to back, as if they were one buffer. */
export function crc32Parts(parts: readonly Uint8Array[]): number {
  return parts.reduce((crc, part) => crc32(part, crc), 0);
}

/** `mat` (32 rows over GF(2)) times the 32-bit vector `vec`. */
function gf2MatrixTimes(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i];
  return sum >>> 0;
}

function gf2MatrixSquare(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2MatrixTimes(mat, mat[n]);
}

/**
 * CRC-32 of `a` followed by `b`, from `crc32(a)`, `crc32(b)` and the length of `b` (zlib's `crc32_combine`,
 * which Node does not expose): applies `lengthB` zero bytes to `crcA` by repeated squaring of the CRC's
 * shift operator, O(log lengthB). Lets a file's checksum be had without reading bytes twice.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  gf2MatrixSquare(even, odd); // operator for two zero bits
  gf2MatrixSquare(odd, even); // four zero bits
  let crc = crcA >>> 0;
  let remaining = lengthB;
  // Each round squares the operator (one zero byte, then two, four, ...) and applies it where `remaining` has a bit.
  for (;;) {
    gf2MatrixSquare(even, odd);
    if (remaining % 2 === 1) crc = gf2MatrixTimes(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    gf2MatrixSquare(odd, even);
    if (remaining % 2 === 1) crc = gf2MatrixTimes(odd, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}

/** "TFRB": TensorFlow.js Resumable Blob. */
const BLOB_MAGIC = 0x42524654;
/** Version of the blob frame layout. */
const BLOB_VERSION = 1;
/** magic u32 | version u32 | payload length u64 (two u32) | crc32 of payload u32 */
export const BLOB_HEADER_BYTES = 20;

/**
 * Wraps a payload in the blob frame every binary checkpoint file uses: magic, version, length and the
 * payload's CRC-32, so a reader detects a foreign file, a truncation and any bit flip before decoding.
 */
export function frameBlob(payload: Uint8Array): Uint8Array {
  const header = frameHeader([payload], crc32(payload));
  const out = new Uint8Array(BLOB_HEADER_BYTES + payload.byteLength);
  out.set(header);
  out.set(payload, BLOB_HEADER_BYTES);
  return out;
}

/**
 * {@link frameBlob} for a payload given in parts, without concatenating them: the frame header followed by
 * the parts themselves, to be written back to back (a big optimizer state is never copied into one buffer).
 */
export function frameBlobParts(parts: readonly Uint8Array[]): Uint8Array[] {
  return [frameHeader(parts, crc32Parts(parts)), ...parts];
}

/**
 * {@link frameBlobParts} as a {@link HeadedContent}: the storage checksums the payload while writing it and
 * makes the header from that, so the payload is read once.
 */
export function frameBlobHeaded(parts: readonly Uint8Array[]): HeadedContent {
  return { headBytes: BLOB_HEADER_BYTES, body: parts, head: (payloadCrc32) => frameHeader(parts, payloadCrc32) };
}

function frameHeader(parts: readonly Uint8Array[], checksum: number): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const header = new Uint8Array(BLOB_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, BLOB_MAGIC, true);
  view.setUint32(4, BLOB_VERSION, true);
  view.setUint32(8, length % 0x100000000, true);
  view.setUint32(12, Math.floor(length / 0x100000000), true);
  view.setUint32(16, checksum, true);
  return header;
}

/**
 * Checks a framed blob and returns its payload (a view, no copy). `what` names the file in errors. With
 * `framedCrc32`, the CRC-32 of the whole framed bytes (already checked against `state.json`), the payload's
 * CRC-32 follows from it and the header without reading the payload again.
 */
export function unframeBlob(framed: Uint8Array, what: string, framedCrc32?: number): Uint8Array {
  if (framed.byteLength < BLOB_HEADER_BYTES) {
    throw new CorruptCheckpointError(
      `${what} is truncated: ${framed.byteLength} bytes, shorter than its ${BLOB_HEADER_BYTES}-byte header.`,
    );
  }
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  if (view.getUint32(0, true) !== BLOB_MAGIC) {
    throw new CorruptCheckpointError(`${what} is not a checkpoint blob (bad magic number).`);
  }
  const version = view.getUint32(4, true);
  if (version !== BLOB_VERSION) {
    throw new CorruptCheckpointError(
      `${what} has blob format version ${version}; this version of tfjs-resumable reads version ${BLOB_VERSION}. ` +
        'Upgrade tfjs-resumable to read it.',
    );
  }
  const length = view.getUint32(8, true) + view.getUint32(12, true) * 0x100000000;
  if (length !== framed.byteLength - BLOB_HEADER_BYTES) {
    throw new CorruptCheckpointError(
      `${what} is truncated or padded: its header announces ${length} payload bytes, ` +
        `the file holds ${framed.byteLength - BLOB_HEADER_BYTES}.`,
    );
  }
  const payload = framed.subarray(BLOB_HEADER_BYTES);
  const expected = view.getUint32(16, true);
  // crc(header ++ payload) = shift(crc(header), |payload|) ^ crc(payload), and crc32Combine(a, 0, n) is that shift.
  const actual =
    framedCrc32 === undefined
      ? crc32(payload)
      : (framedCrc32 ^ crc32Combine(crc32(framed.subarray(0, BLOB_HEADER_BYTES)), 0, payload.byteLength)) >>> 0;
  if (actual !== expected) {
    throw new CorruptCheckpointError(
      `${what} failed its checksum (crc32 ${actual.toString(16)}, expected ${expected.toString(16)}): ` +
        'the file was corrupted on disk or in transit.',
    );
  }
  return payload;
}
