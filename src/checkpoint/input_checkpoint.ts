import { decodeDatasetState, encodeDatasetState } from '../data/state_codec';
import type { DatasetState } from '../data/state';
import { CorruptCheckpointError, InvalidArgumentError, ResumableError } from '../errors';
import { stepOfPath } from './checkpoint_index';

/*
 * The input-checkpoint format in one place: file names (`input[_<taskType>_<taskId>].ckpt-<step>` blobs listed in
 * `checkpoint_input[_<taskType>_<taskId>]`), and the blob payload: a count, then each pipeline's encoded
 * `DatasetState` (TFRD frame, see data/state_codec.ts) with its length. The hook writes it, the CLI reads it.
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

/** Frames several encoded pipeline states as one blob: count, then (length, bytes) each, little endian. */
export function packInputStates(states: Uint8Array[]): Uint8Array {
  const total = 4 + states.reduce((n, s) => n + 4 + s.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, states.length, true);
  let offset = 4;
  for (const state of states) {
    view.setUint32(offset, state.length, true);
    out.set(state, offset + 4);
    offset += 4 + state.length;
  }
  return out;
}

/** Inverse of {@link packInputStates}; checks the count against the pipelines of this run. */
export function unpackInputStates(bytes: Uint8Array, expectedCount: number): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`Input checkpoint is malformed: ${why}.`);
  };
  if (bytes.length < 4) fail('shorter than its header');
  const count = view.getUint32(0, true);
  if (count !== expectedCount) {
    throw new InvalidArgumentError(
      `Input checkpoint holds ${count} pipeline state(s) but this run has ${expectedCount} checkpointable ` +
        'pipeline(s): restore into the same set of datasets that was saved.',
    );
  }
  const states: Uint8Array[] = [];
  let offset = 4;
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
    if (payload.byteLength < 4) throw new CorruptCheckpointError('shorter than its 4-byte header');
    const count = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
    return decodeInputCheckpoint(payload, count);
  } catch (e) {
    if (!(e instanceof ResumableError)) throw e;
    throw new CorruptCheckpointError(`${what} holds no valid input pipeline state: ${e.message}`);
  }
}
