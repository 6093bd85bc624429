import { DATASET_STATE_MAGIC, decodeDatasetState, encodeDatasetState } from '../data/state_codec';
import type { DatasetState } from '../data/state';
import { CorruptCheckpointError, InvalidArgumentError, ResumableError } from '../errors';
import { stepOfPath } from './checkpoint_index';

/*
 * The input-checkpoint format in one place: file names (`input[_<taskType>_<taskId>].ckpt-<step>` blobs listed in
 * `checkpoint_input[_<taskType>_<taskId>]`), and the blob payload: "TFRI", a version, a count, then each pipeline's
 * encoded `DatasetState` (TFRD frame, see data/state_codec.ts) with its length. The hook writes it, the CLI reads it.
 */

/** What decides a worker's file names (a `RunConfig` fits). */
export interface WorkerIdentity {
  /** Workers sharing the modelDir (default 1); above 1, file names carry `taskType` and `taskId`. */
  numWorkerReplicas?: number;
  /** Default `'worker'`. */
  taskType?: string;
  /** Default 0. */
  taskId?: number;
}

/** File names of one worker's input checkpoints: blobs `<prefix>-<step>` listed in the index `indexName`. */
export interface InputCheckpointNames {
  /** `input.ckpt`, or `input_<taskType>_<taskId>.ckpt` with several workers. */
  prefix: string;
  /** `checkpoint_input`, or `checkpoint_input_<taskType>_<taskId>` with several workers. */
  indexName: string;
}

/**
 * The names this process's input checkpoints use (TF's rule): `input.ckpt` / `checkpoint_input` alone,
 * `input_<taskType>_<taskId>.ckpt` / `checkpoint_input_<taskType>_<taskId>` when `numWorkerReplicas > 1`,
 * so workers sharing a modelDir never write each other's files.
 */
export function inputCheckpointNames(config: WorkerIdentity): InputCheckpointNames {
  const replicas = config.numWorkerReplicas ?? 1;
  const suffix = replicas > 1 ? `_${config.taskType ?? 'worker'}_${config.taskId ?? 0}` : '';
  return { prefix: `input${suffix}.ckpt`, indexName: `checkpoint_input${suffix}` };
}

/** Index name of the single-worker input checkpoints; per-worker ones append `_<taskType>_<taskId>`. */
const INPUT_INDEX_BASE = 'checkpoint_input';
/** Names of input checkpoint index files, single-worker and per-worker. */
export const INPUT_INDEX_NAME_PATTERN = /^checkpoint_input(_[A-Za-z0-9_.-]+)?$/;
const BLOB_NAME = /^input(_[A-Za-z0-9_.-]+)?\.ckpt-[0-9]+$/;

/** One series of input checkpoints: an index file and its `<prefix>-<step>` blobs. */
export interface InputSeriesName {
  /** `checkpoint_input` or `checkpoint_input_<taskType>_<taskId>`. */
  indexName: string;
  /** `input.ckpt` or `input_<taskType>_<taskId>.ckpt`. */
  prefix: string;
}

/** The series an index name belongs to: `checkpoint_input_worker_1` → `input_worker_1.ckpt`. */
export function seriesOfIndex(indexName: string): InputSeriesName {
  return { indexName, prefix: `input${indexName.slice(INPUT_INDEX_BASE.length)}.ckpt` };
}

/** The series and step of a blob name (`input_worker_1.ckpt-120`), or `null` when it is not one. */
export function parseInputBlobName(name: string): (InputSeriesName & { step: number }) | null {
  if (!BLOB_NAME.test(name)) return null;
  const prefix = name.slice(0, name.lastIndexOf('-'));
  const step = stepOfPath(name, prefix);
  if (step === null) return null;
  return { indexName: INPUT_INDEX_BASE + prefix.slice('input'.length, -'.ckpt'.length), prefix, step };
}

/** First bytes of an input checkpoint payload ("TFRI"), so a foreign blob in an `input.ckpt-N` is recognized as one. */
export const INPUT_CHECKPOINT_MAGIC: readonly number[] = [0x54, 0x46, 0x52, 0x49];
/** Version of the payload layout written here; a newer one is refused with what to do. */
export const INPUT_CHECKPOINT_FORMAT_VERSION = 1;
const HEADER_BYTES = 12;

/**
 * Frames several encoded pipeline states as one blob: "TFRI", format version (u32), count (u32), then
 * (length u32, bytes) each, little endian. (The blob file adds its own TFRB frame and CRC around this.)
 */
export function packInputStates(states: Uint8Array[]): Uint8Array {
  const total = HEADER_BYTES + states.reduce((n, s) => n + 4 + s.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(INPUT_CHECKPOINT_MAGIC, 0);
  view.setUint32(4, INPUT_CHECKPOINT_FORMAT_VERSION, true);
  view.setUint32(8, states.length, true);
  let offset = HEADER_BYTES;
  for (const state of states) {
    view.setUint32(offset, state.length, true);
    out.set(state, offset + 4);
    offset += 4 + state.length;
  }
  return out;
}

function startsWith(bytes: Uint8Array, offset: number, magic: readonly number[]): boolean {
  return bytes.length >= offset + magic.length && magic.every((b, i) => bytes[offset + i] === b);
}

/**
 * Where the states of a payload start, and how many there are. Payloads written before the magic (0.1.0 and
 * 0.2.0 development builds) begin with the count, then the first state's length and its TFRD frame: still read.
 */
function readHeader(bytes: Uint8Array): { count: number; offset: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (startsWith(bytes, 0, INPUT_CHECKPOINT_MAGIC)) {
    if (bytes.length < HEADER_BYTES) throw new InvalidArgumentError('Input checkpoint is malformed: shorter than its header.');
    const version = view.getUint32(4, true);
    if (version !== INPUT_CHECKPOINT_FORMAT_VERSION) {
      throw new CorruptCheckpointError(
        `Input checkpoint has format version ${version}; this version of tfjs-resumable reads version ` +
          `${INPUT_CHECKPOINT_FORMAT_VERSION}. Upgrade tfjs-resumable to resume from it (or delete the input.ckpt-* ` +
          'files to start the input pipeline from the beginning).',
      );
    }
    return { count: view.getUint32(8, true), offset: HEADER_BYTES };
  }
  const legacyCount = bytes.length >= 4 ? view.getUint32(0, true) : -1;
  if ((legacyCount === 0 && bytes.length === 4) || (legacyCount > 0 && startsWith(bytes, 8, DATASET_STATE_MAGIC))) {
    return { count: legacyCount, offset: 4 };
  }
  throw new CorruptCheckpointError(
    'Input checkpoint is not one: it starts with neither the TFRI magic number nor a pipeline state, so another ' +
      'file was probably copied over it. Restore the original, or delete it so the previous input checkpoint is used.',
  );
}

/** Inverse of {@link packInputStates} (also reads payloads written before the magic); checks the count against the pipelines of this run. */
export function unpackInputStates(bytes: Uint8Array, expectedCount: number): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`Input checkpoint is malformed: ${why}.`);
  };
  const header = readHeader(bytes);
  const count = header.count;
  if (count !== expectedCount) {
    throw new InvalidArgumentError(
      `Input checkpoint holds ${count} pipeline state(s) but this run has ${expectedCount} checkpointable ` +
        'pipeline(s): restore into the same set of datasets that was saved.',
    );
  }
  const states: Uint8Array[] = [];
  let offset = header.offset;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.length) fail(`state ${i} header past the end`);
    const length = view.getUint32(offset, true);
    if (offset + 4 + length > bytes.length) fail(`state ${i} claims ${length} bytes past the end`);
    states.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (offset !== bytes.length) fail(`${bytes.length - offset} trailing bytes`);
  return states;
}

/** The blob payload for the states of a run's pipelines, in order. */
export function encodeInputCheckpoint(states: DatasetState[]): Uint8Array {
  return packInputStates(states.map(encodeDatasetState));
}

/** Inverse of {@link encodeInputCheckpoint}, for a run with `expectedCount` pipelines. */
export function decodeInputCheckpoint(bytes: Uint8Array, expectedCount: number): DatasetState[] {
  return unpackInputStates(bytes, expectedCount).map(decodeDatasetState);
}

/**
 * Decodes a verified input checkpoint payload into its pipeline states. The payload's own framing (count,
 * lengths) and each state's TFRD frame and CRC are checked; any failure is reported as corruption of `what`.
 */
export function decodeInputBlob(payload: Uint8Array, what: string): DatasetState[] {
  try {
    return decodeInputCheckpoint(payload, readHeader(payload).count);
  } catch (e) {
    if (!(e instanceof ResumableError)) throw e;
    throw new CorruptCheckpointError(`${what} holds no valid input pipeline state: ${e.message}`);
  }
}
