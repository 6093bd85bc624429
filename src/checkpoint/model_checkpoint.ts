import * as tf from '@tensorflow/tfjs';
import { BackendFingerprint, currentBackendFingerprint } from '../backend_fingerprint';
import { CheckpointNotFoundError, CorruptCheckpointError, InvalidArgumentError } from '../errors';
import type { JsonValue } from '../data/state';
import { frameBlob, frameBlobHeaded, unframeBlob } from './checksum';
import { contentBytes, joinChecksummed, readChecksummed } from './file_content';
import { checkStep } from './checkpoint_index';
import type { ModelSnapshot, OptimizerSnapshot } from './model_snapshot';
import { decodeChecksummedJson, encodeChecksummedJson, isJsonObject, parseBoundedJson } from './safe_json';
import { type SnapshotFill, awaitFillComplete, awaitFilled } from './snapshot_fill';
import type { BatchSeal, CheckpointStorage, ChecksummedBytes, FileContent, HeadedContent } from './storage';
import { TensorData, concatTensorData, packedView, specsToJson, splitTensorData, validateSpecs } from './tensor_data';

/** Prefix of model checkpoint directories: `model.ckpt-<step>`. */
export const MODEL_CHECKPOINT_PREFIX = 'model.ckpt';
/** Name of the model checkpoint index file. */
export const MODEL_INDEX_NAME = 'checkpoint';
/** Version of the `state.json` layout written by this release. */
export const CHECKPOINT_FORMAT_VERSION = 1;

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const OPTIMIZER_BIN = 'optimizer.bin';
const STATE_JSON = 'state.json';
const EXTRA_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Size limits applied before a checkpoint file is read or allocated. */
export interface CheckpointLimits {
  /** Largest file read (weights.bin, optimizer.bin, extras). Default 2 GiB. */
  maxFileBytes: number;
  /** Largest model.json / state.json. Default 64 MiB. */
  maxJsonBytes: number;
}

/** Default {@link CheckpointLimits}. */
export const DEFAULT_LIMITS: CheckpointLimits = { maxFileBytes: 2 * 1024 ** 3, maxJsonBytes: 64 * 1024 ** 2 };

/** Size and CRC-32 of one file of a checkpoint, as recorded in `state.json`. */
export interface FileRecord {
  /** Size of the file as stored, in bytes. */
  size: number;
  /** CRC-32 of the file's stored bytes, as an unsigned 32-bit integer. */
  crc32: number;
}

/** The parsed, checked `state.json` of a model checkpoint. */
export interface CheckpointState {
  /** Layout version of `state.json`; only {@link CHECKPOINT_FORMAT_VERSION} is read. */
  formatVersion: number;
  /** Steps completed when the checkpoint was written. */
  globalStep: number;
  /** Epoch (0-based) training was in when the checkpoint was written. */
  epoch: number;
  /** `tf.getBackend()` of the writer: resuming on another backend changes the bits. */
  backend: string;
  /**
   * Everything that decided the writer's bits (backend, library versions, oneDNN, wasm SIMD/threads).
   * A checkpoint written before 0.2.0 records only the backend: then this is `{ backend }`.
   */
  fingerprint: BackendFingerprint;
  /** When it was written (informational only, never used for decisions). */
  createdAt: string;
  /**
   * Size and CRC-32 of every file of the checkpoint, keyed by file name within its directory
   * (`model.json`, `weights.bin`, `optimizer.bin`, `extra-<name>.bin`).
   */
  files: Record<string, FileRecord>;
  /** Names of the extra blobs stored as `extra-<name>.bin`. */
  extras: string[];
}

/** Everything read back from a verified model checkpoint. */
export interface LoadedCheckpoint {
  path: string;
  state: CheckpointState;
  modelTopology: JsonValue;
  weights: TensorData[];
  optimizer: OptimizerSnapshot | null;
  extras: Record<string, Uint8Array>;
}

/** What a model checkpoint records besides the model: where training was. */
export interface CheckpointMeta {
  /** Steps completed at this checkpoint (a non-negative integer); names the directory `model.ckpt-<step>`. */
  globalStep: number;
  /** Epoch (0-based, a non-negative integer) training is in. */
  epoch: number;
  /** Backend that produced the weights. Default `tf.getBackend()`. */
  backend?: string;
  /**
   * What decided the weights' bits. Default: the running setup (`currentBackendFingerprint()`); when only `backend` is
   * given and it is not the active one, just that backend and the tfjs version are recorded.
   */
  fingerprint?: BackendFingerprint;
  /** Named binary blobs riding along (an input pipeline state, ...), stored as `extra-<name>.bin`. */
  extras?: Record<string, Uint8Array>;
}

function extraFile(name: string): string {
  return `extra-${name}.bin`;
}

const encoder = new TextEncoder();

/**
 * optimizer.bin, framed: u32 header length | header JSON {className, weights, hidden} | tensor data. In
 * parts (frame header, length + JSON, the snapshot's packed tensor data), so the tensors are not copied.
 */
function encodeOptimizer(state: OptimizerSnapshot): HeadedContent {
  const header = encoder.encode(
    JSON.stringify({ className: state.className, weights: specsToJson(state.weights), hidden: specsToJson(state.hidden) }),
  );
  const prefix = new Uint8Array(4 + header.byteLength);
  new DataView(prefix.buffer).setUint32(0, header.byteLength, true);
  prefix.set(header, 4);
  // The frame's CRC-32 is taken while the storage writes the payload: ~50 MB of moments are read once.
  return frameBlobHeaded([prefix, concatTensorData([...state.weights, ...state.hidden])]);
}

function decodeOptimizer(framed: ChecksummedBytes, what: string, maxJsonBytes: number): OptimizerSnapshot {
  const payload = unframeBlob(framed.bytes, what, framed.crc32);
  if (payload.byteLength < 4) throw new CorruptCheckpointError(`${what} is too short for its header.`);
  const headerLength = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  if (headerLength > payload.byteLength - 4) {
    throw new CorruptCheckpointError(`${what} announces a ${headerLength}-byte header in a ${payload.byteLength}-byte file.`);
  }
  const header = parseBoundedJson(payload.subarray(4, 4 + headerLength), maxJsonBytes, `${what} header`);
  if (!isJsonObject(header) || typeof header.className !== 'string' || !Array.isArray(header.weights) ||
      !Array.isArray(header.hidden)) {
    throw new CorruptCheckpointError(`${what} header is not {className, weights, hidden}.`);
  }
  const data = payload.subarray(4 + headerLength);
  const specs = validateSpecs([...header.weights, ...header.hidden], data.byteLength, what);
  const tensors = splitTensorData(specs, data);
  return {
    className: header.className,
    weights: tensors.slice(0, header.weights.length),
    hidden: tensors.slice(header.weights.length),
  };
}

/**
 * Writes files atomically, then the `seal` file made from their CRC-32s: in one durable batch (checksummed
 * while written, one fsync round) where the storage offers it, else one `writeAtomic` each, the seal last.
 */
async function writeChecksummed(
  storage: CheckpointStorage,
  files: ReadonlyArray<readonly [string, FileContent]>,
  seal: BatchSeal,
  fill: SnapshotFill | undefined,
): Promise<void> {
  if (storage.writeAtomicBatch) {
    await storage.writeAtomicBatch(files, seal, fill !== undefined ? (part, end) => awaitFilled(fill, part, end) : undefined);
    return;
  }
  // Joined into one buffer per object: every byte must be copied first.
  if (fill !== undefined) await awaitFillComplete(fill);
  const checksums: number[] = [];
  for (const [rel, content] of files) {
    const joined = joinChecksummed(content);
    await storage.writeAtomic(rel, joined.bytes);
    checksums.push(joined.crc32);
  }
  const [rel, bytes] = seal(checksums);
  await storage.writeAtomic(rel, bytes);
}

/**
 * Writes a model checkpoint's files into `<dir>/`: model.json + weights.bin (tfjs's layers-model
 * format), optimizer.bin, extras, and `state.json` last, which records every file's size and CRC-32.
 * Each file is written atomically; the checkpoint only becomes visible when an index names it, which
 * is the caller's job.
 */
export async function writeModelCheckpointFiles(
  storage: CheckpointStorage,
  dir: string,
  snapshot: ModelSnapshot,
  meta: CheckpointMeta,
  fill?: SnapshotFill,
): Promise<void> {
  checkStep(meta.globalStep, 'saveCheckpoint globalStep', InvalidArgumentError);
  if (!Number.isSafeInteger(meta.epoch) || meta.epoch < 0) {
    throw new InvalidArgumentError(`epoch must be a non-negative integer, got ${meta.epoch}.`);
  }
  const extras = meta.extras ?? {};
  for (const name of Object.keys(extras)) {
    if (!EXTRA_NAME.test(name)) {
      throw new InvalidArgumentError(
        `Extra blob name ${JSON.stringify(name)} must be 1-64 letters, digits, "_", "." or "-".`,
      );
    }
  }
  // A snapshot still being copied is written from its buffers as they fill; tensors not packed in them would
  // be copied here, before any chunk was waited for: wait for the whole copy then.
  const optimizerTensors = snapshot.optimizer !== null ? [...snapshot.optimizer.weights, ...snapshot.optimizer.hidden] : [];
  if (fill !== undefined && (packedView(snapshot.weights) === undefined || packedView(optimizerTensors) === undefined)) {
    await awaitFillComplete(fill);
  }
  const files: Array<[string, FileContent]> = [
    [
      MODEL_JSON,
      encoder.encode(
        JSON.stringify({
          modelTopology: snapshot.modelTopology,
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
          weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specsToJson(snapshot.weights) }],
        }),
      ),
    ],
    [WEIGHTS_BIN, concatTensorData(snapshot.weights)],
  ];
  if (snapshot.optimizer) files.push([OPTIMIZER_BIN, encodeOptimizer(snapshot.optimizer)]);
  for (const [name, bytes] of Object.entries(extras)) files.push([extraFile(name), frameBlob(bytes)]);

  // weights.bin last of the data files: a crash while renaming leaves at most the biggest file to rewrite.
  files.push(files.splice(1, 1)[0]);
  const fingerprint = writerFingerprint(meta);
  // state.json records every file's size and CRC-32 and is renamed last: made durable in the same fsync
  // round as the files (nothing names the checkpoint before the index, written after this batch).
  const sealState = (checksums: readonly number[]): readonly [string, Uint8Array] => {
    const records: Record<string, JsonValue> = {};
    files.forEach(([name, content], i) => {
      records[name] = { size: contentBytes(content), crc32: checksums[i] };
    });
    const state: { [key: string]: JsonValue } = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      globalStep: meta.globalStep,
      epoch: meta.epoch,
      backend: fingerprint.backend,
      fingerprint: { ...fingerprint },
      createdAt: new Date().toISOString(),
      files: records,
      extras: Object.keys(extras),
    };
    return [`${dir}/${STATE_JSON}`, encodeChecksummedJson(state)];
  };
  await writeChecksummed(storage, files.map(([name, content]) => [`${dir}/${name}`, content] as const), sealState, fill);
}

/** The fingerprint recorded for `meta`: its own, else the active backend's (or just `meta.backend` and the tfjs version). */
export function writerFingerprint(meta: CheckpointMeta): BackendFingerprint {
  if (meta.fingerprint !== undefined) return meta.fingerprint;
  const current = currentBackendFingerprint();
  if (meta.backend === undefined || meta.backend === current.backend) return current;
  return { backend: meta.backend, tfjs: current.tfjs };
}

const FINGERPRINT_STRINGS = ['tfjs', 'tfjsNode', 'tensorflow', 'tfjsBackendWasm'] as const;
const FINGERPRINT_BOOLEANS = ['wasmSimd', 'wasmThreads'] as const;

/** `state.json`'s `fingerprint`, checked field by field; absent (before 0.2.0): just the backend. */
function checkFingerprint(raw: JsonValue | undefined, backend: string, what: string): BackendFingerprint {
  if (raw === undefined) return { backend };
  if (!isJsonObject(raw) || raw.backend !== backend) {
    throw new CorruptCheckpointError(`${what}: "fingerprint" must be an object whose backend is ${JSON.stringify(backend)}.`);
  }
  const fingerprint: BackendFingerprint = { backend };
  for (const field of FINGERPRINT_STRINGS) {
    const value = raw[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new CorruptCheckpointError(`${what}: fingerprint.${field} must be a string.`);
    fingerprint[field] = value;
  }
  for (const field of FINGERPRINT_BOOLEANS) {
    const value = raw[field];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new CorruptCheckpointError(`${what}: fingerprint.${field} must be a boolean.`);
    fingerprint[field] = value;
  }
  if (raw.oneDnn !== undefined) {
    if (raw.oneDnn !== 'on' && raw.oneDnn !== 'off') {
      throw new CorruptCheckpointError(`${what}: fingerprint.oneDnn must be "on" or "off".`);
    }
    fingerprint.oneDnn = raw.oneDnn;
  }
  return fingerprint;
}

function checkState(raw: { [key: string]: JsonValue }, what: string, limits: CheckpointLimits): CheckpointState {
  if (raw.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CorruptCheckpointError(
      `${what} has format version ${JSON.stringify(raw.formatVersion)}; this version of tfjs-resumable reads ` +
        `${CHECKPOINT_FORMAT_VERSION}. Upgrade tfjs-resumable to read newer checkpoints.`,
    );
  }
  const globalStep = checkStep(raw.globalStep, what);
  const epoch = checkStep(raw.epoch, `${what} (epoch)`);
  if (typeof raw.backend !== 'string' || typeof raw.createdAt !== 'string') {
    throw new CorruptCheckpointError(`${what} lacks backend or createdAt.`);
  }
  if (!isJsonObject(raw.files)) throw new CorruptCheckpointError(`${what} has no "files" record.`);
  const extras = raw.extras ?? [];
  if (!Array.isArray(extras) || !extras.every((e): e is string => typeof e === 'string' && EXTRA_NAME.test(e))) {
    throw new CorruptCheckpointError(`${what} has an invalid "extras" list.`);
  }
  const allowed = new Set([MODEL_JSON, WEIGHTS_BIN, OPTIMIZER_BIN, ...extras.map(extraFile)]);
  const files: Record<string, FileRecord> = {};
  for (const [name, rec] of Object.entries(raw.files)) {
    if (!allowed.has(name)) throw new CorruptCheckpointError(`${what} records an unexpected file ${JSON.stringify(name)}.`);
    if (!isJsonObject(rec) || typeof rec.size !== 'number' || !Number.isSafeInteger(rec.size) || rec.size < 0 ||
        typeof rec.crc32 !== 'number' || !Number.isInteger(rec.crc32) || rec.crc32 < 0 || rec.crc32 > 0xffffffff) {
      throw new CorruptCheckpointError(`${what} has an invalid record for ${name}.`);
    }
    if (rec.size > limits.maxFileBytes) {
      throw new CorruptCheckpointError(
        `${what} records ${name} as ${rec.size} bytes, more than the ${limits.maxFileBytes}-byte limit: refusing to read it.`,
      );
    }
    files[name] = { size: rec.size, crc32: rec.crc32 };
  }
  for (const name of [MODEL_JSON, WEIGHTS_BIN, ...extras.map(extraFile)]) {
    if (!(name in files)) throw new CorruptCheckpointError(`${what} does not record ${name}.`);
  }
  const fingerprint = checkFingerprint(raw.fingerprint, raw.backend, what);
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    globalStep,
    epoch,
    backend: raw.backend,
    fingerprint,
    createdAt: raw.createdAt,
    files,
    extras,
  };
}

/** Reads and checks `<dir>/state.json` only (cheap: for listings). */
export async function readCheckpointState(
  storage: CheckpointStorage,
  dir: string,
  limits: CheckpointLimits = DEFAULT_LIMITS,
): Promise<CheckpointState> {
  const rel = `${dir}/${STATE_JSON}`;
  const what = `${storage.location}/${rel}`;
  const st = await storage.stat(rel);
  if (st === null) throw new CorruptCheckpointError(`${what} is missing: the checkpoint is incomplete.`);
  if (st.size > limits.maxJsonBytes) {
    throw new CorruptCheckpointError(`${what} is ${st.size} bytes, more than ${limits.maxJsonBytes}: refusing to read it.`);
  }
  return checkState(decodeChecksummedJson(await storage.read(rel), limits.maxJsonBytes, what), what, limits);
}

/**
 * Reads one file of a checkpoint and checks its size and CRC-32 against `state.json` (checksummed while it is
 * read where the storage can); returns the bytes and that CRC-32.
 */
async function readVerified(storage: CheckpointStorage, dir: string, name: string, rec: FileRecord): Promise<ChecksummedBytes> {
  const rel = `${dir}/${name}`;
  const what = `${storage.location}/${rel}`;
  const st = await storage.stat(rel);
  if (st === null) throw new CorruptCheckpointError(`${what} is missing.`);
  if (st.size !== rec.size) {
    throw new CorruptCheckpointError(`${what} is ${st.size} bytes but state.json records ${rec.size}: it was truncated or altered.`);
  }
  let read: ChecksummedBytes;
  try {
    read = await readChecksummed(storage, rel);
  } catch (e) {
    if (e instanceof CheckpointNotFoundError) throw new CorruptCheckpointError(`${what} is missing.`);
    throw e;
  }
  if (read.bytes.byteLength !== rec.size) {
    throw new CorruptCheckpointError(`${what} is ${read.bytes.byteLength} bytes but state.json records ${rec.size}.`);
  }
  if (read.crc32 !== rec.crc32) {
    throw new CorruptCheckpointError(
      `${what} failed its checksum (crc32 ${read.crc32.toString(16)}, state.json records ${rec.crc32.toString(16)}): ` +
        'the file was corrupted.',
    );
  }
  return read;
}

/**
 * Reads a whole model checkpoint and verifies every file (sizes and CRC-32s from `state.json`, the
 * tensor manifests against the data present) before returning anything. Throws
 * `CorruptCheckpointError` naming the first bad file.
 */
export async function readModelCheckpoint(
  storage: CheckpointStorage,
  dir: string,
  expectedStep: number | null,
  limits: CheckpointLimits = DEFAULT_LIMITS,
): Promise<LoadedCheckpoint> {
  const state = await readCheckpointState(storage, dir, limits);
  if (expectedStep !== null && state.globalStep !== expectedStep) {
    throw new CorruptCheckpointError(
      `${storage.location}/${dir}/${STATE_JSON} records step ${state.globalStep}, not ${expectedStep}.`,
    );
  }
  const modelJsonWhat = `${storage.location}/${dir}/${MODEL_JSON}`;
  if (state.files[MODEL_JSON].size > limits.maxJsonBytes) {
    throw new CorruptCheckpointError(`${modelJsonWhat} is larger than ${limits.maxJsonBytes} bytes: refusing to read it.`);
  }
  const modelJson = parseBoundedJson(
    (await readVerified(storage, dir, MODEL_JSON, state.files[MODEL_JSON])).bytes,
    limits.maxJsonBytes,
    modelJsonWhat,
  );
  const manifest = isJsonObject(modelJson) ? modelJson.weightsManifest : undefined;
  const group = Array.isArray(manifest) && manifest.length === 1 ? manifest[0] : undefined;
  if (!isJsonObject(modelJson) || modelJson.modelTopology === undefined || !isJsonObject(group) ||
      JSON.stringify(group.paths) !== JSON.stringify([WEIGHTS_BIN])) {
    throw new CorruptCheckpointError(`${modelJsonWhat} is not a layers model with one weights.bin manifest group.`);
  }
  const weightsSize = state.files[WEIGHTS_BIN].size;
  const specs = validateSpecs(group.weights, weightsSize, modelJsonWhat);
  const weights = splitTensorData(specs, (await readVerified(storage, dir, WEIGHTS_BIN, state.files[WEIGHTS_BIN])).bytes);
  let optimizer: OptimizerSnapshot | null = null;
  if (state.files[OPTIMIZER_BIN]) {
    optimizer = decodeOptimizer(
      await readVerified(storage, dir, OPTIMIZER_BIN, state.files[OPTIMIZER_BIN]),
      `${storage.location}/${dir}/${OPTIMIZER_BIN}`,
      limits.maxJsonBytes,
    );
  }
  const extras: Record<string, Uint8Array> = {};
  for (const name of state.extras) {
    const file = extraFile(name);
    const read = await readVerified(storage, dir, file, state.files[file]);
    extras[name] = unframeBlob(read.bytes, `${storage.location}/${dir}/${file}`, read.crc32);
  }
  return { path: dir, state, modelTopology: modelJson.modelTopology, weights, optimizer, extras };
}

