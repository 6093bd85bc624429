import { listCheckpoints } from '../checkpoint/checkpoint_manager';
import { stepOfPath } from '../checkpoint/checkpoint_index';
import {
  CheckpointState,
  FileRecord,
  LoadedCheckpoint,
  MODEL_CHECKPOINT_PREFIX,
  readModelCheckpoint,
} from '../checkpoint/model_checkpoint';
import { parseBoundedJson } from '../checkpoint/safe_json';
import type { CheckpointStorage } from '../checkpoint/storage';
import type { TensorData, TensorSpec } from '../checkpoint/tensor_data';
import { INPUT_PIPELINE_SAVEABLE_NAME } from '../data/saveable';
import { DATASET_STATE_MAGIC, decodeDatasetState } from '../data/state_codec';
import type { JsonValue } from '../data/state';
import { CheckpointNotFoundError, ResumableError } from '../errors';
import { FIT_POSITION_SAVEABLE_NAME } from '../checkpoint/fit_position';
import { type InputSeriesName, decodeInputBlob, parseInputBlobName } from '../checkpoint/input_checkpoint';
import { JSON_SCHEMA_VERSION } from './cli_io';
import { DatasetStateView, renderDatasetState, viewDatasetState } from './dataset_state_view';
import { formatBytes, formatNumber, formatShape, renderPairs, renderTable } from './format';
import { readInputBlob } from './input_checkpoints';
import { closeStorage, openModelDir, splitPath } from './locate';

/** A stored tensor's description (`--json` field names). */
export interface TensorSpecView {
  name: string;
  shape: number[];
  dtype: string;
  /** Bytes of its data. */
  bytes: number;
}

/** A weight with cheap statistics over its finite values (`null` when it has none). */
export interface WeightView extends TensorSpecView {
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Count of NaN / ±Infinity values: a diverged run shows here. */
  nonFinite: number;
}

/** The optimizer state of a checkpoint. */
export interface OptimizerView {
  /** tfjs class name, e.g. `Adam`. */
  className: string;
  /** The optimizer's iteration count (its `iter` variable), `null` when it has none. */
  iteration: number | null;
  /** `optimizer.getWeights()` order: the iteration count, then the slots. */
  weights: TensorSpecView[];
  /** Scalar variables kept outside `getWeights()` (Adam's `accBeta1`, `accBeta2`). */
  hidden: TensorSpecView[];
}

/** One extra blob of a model checkpoint. */
export interface ExtraView {
  name: string;
  sizeBytes: number;
  /** How it was decoded: an input pipeline state, resumableFit's position, or opaque bytes. */
  kind: 'dataset-state' | 'fit-position' | 'opaque';
  datasetState?: DatasetStateView;
  /** `{epoch, stepInEpoch}` of resumableFit. */
  fitPosition?: JsonValue;
  /** Why decoding failed (the blob's checksum was fine: it was written by another version or another tool). */
  decodeError?: string;
}

/** `inspect --json` of a model checkpoint. */
export interface ModelInspectJson {
  schemaVersion: number;
  kind: 'model';
  /** Storage holding the checkpoint (the modelDir). */
  location: string;
  /** `model.ckpt-<step>`. */
  path: string;
  state: Omit<CheckpointState, 'extras'>;
  weights: WeightView[];
  optimizer: OptimizerView | null;
  extras: ExtraView[];
}

/** `inspect --json` of an input checkpoint. */
export interface InputInspectJson extends InputSeriesName {
  schemaVersion: number;
  kind: 'input';
  location: string;
  /** `<prefix>-<step>`. */
  path: string;
  step: number;
  /** Stored size, frame included. */
  sizeBytes: number;
  /** One state per checkpointable pipeline of the run. */
  pipelines: DatasetStateView[];
}

/** What `inspect` reports. */
export type InspectJson = ModelInspectJson | InputInspectJson;

const MAX_FIT_POSITION_BYTES = 4096;
const EXPECTED =
  'expected a model checkpoint directory (model.ckpt-<step>), an input checkpoint file (input.ckpt-<step>) ' +
  'or a modelDir holding model checkpoints';

function specView(t: TensorSpec): TensorSpecView {
  const size = t.shape.reduce((n, d) => n * d, 1);
  return { name: t.name, shape: t.shape, dtype: t.dtype, bytes: size * 4 };
}

function weightView(t: TensorData): WeightView {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let finite = 0;
  for (const v of t.data) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite += 1;
  }
  return {
    ...specView(t),
    min: finite > 0 ? min : null,
    max: finite > 0 ? max : null,
    mean: finite > 0 ? sum / finite : null,
    nonFinite: t.data.length - finite,
  };
}

function optimizerView(ckpt: LoadedCheckpoint): OptimizerView | null {
  if (ckpt.optimizer === null) return null;
  const iter = ckpt.optimizer.weights.find((w) => w.name === 'iter' && w.data.length === 1);
  return {
    className: ckpt.optimizer.className,
    iteration: iter === undefined ? null : iter.data[0],
    weights: ckpt.optimizer.weights.map(specView),
    hidden: ckpt.optimizer.hidden.map(specView),
  };
}

function extraView(name: string, bytes: Uint8Array, what: string): ExtraView {
  const view: ExtraView = { name, sizeBytes: bytes.byteLength, kind: 'opaque' };
  try {
    if (name === FIT_POSITION_SAVEABLE_NAME) {
      view.fitPosition = parseBoundedJson(bytes, MAX_FIT_POSITION_BYTES, what);
      view.kind = 'fit-position';
    } else if (name === INPUT_PIPELINE_SAVEABLE_NAME || DATASET_STATE_MAGIC.every((b, i) => bytes[i] === b)) {
      // Any saveable made by makeSaveableFromIterator carries the TFRD frame, whatever its name.
      view.datasetState = viewDatasetState(decodeDatasetState(bytes));
      view.kind = 'dataset-state';
    }
  } catch (e) {
    if (!(e instanceof ResumableError)) throw e;
    view.decodeError = e.message;
  }
  return view;
}

function modelJson(storage: CheckpointStorage, ckpt: LoadedCheckpoint): ModelInspectJson {
  const { extras: extraNames, ...state } = ckpt.state;
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    kind: 'model',
    location: storage.location,
    path: ckpt.path,
    state,
    weights: ckpt.weights.map(weightView),
    optimizer: optimizerView(ckpt),
    extras: extraNames.map((name) => extraView(name, ckpt.extras[name], `${storage.location}/${ckpt.path} extra ${name}`)),
  };
}

function renderSpecs(specs: TensorSpecView[]): string[] {
  return renderTable(
    ['name', 'shape', 'dtype', 'size'],
    specs.map((s) => [s.name, formatShape(s.shape), s.dtype, formatBytes(s.bytes)]),
    ['left', 'left', 'left', 'right'],
  );
}

function renderModel(view: ModelInspectJson): string[] {
  const lines = [`Model checkpoint ${view.location}/${view.path}`];
  lines.push(
    ...renderPairs([
      ['format version', String(view.state.formatVersion)],
      ['global step', String(view.state.globalStep)],
      ['epoch', String(view.state.epoch)],
      ['backend', view.state.backend],
      ['created at', view.state.createdAt],
    ]),
  );
  const files = Object.entries(view.state.files) as Array<[string, FileRecord]>;
  lines.push('', 'Files (sizes and CRC-32s recorded in state.json, all verified)');
  lines.push(
    ...renderTable(
      ['name', 'size', 'crc32'],
      files.map(([name, rec]) => [name, formatBytes(rec.size), rec.crc32.toString(16).padStart(8, '0')]),
      ['left', 'right', 'left'],
    ),
  );
  const values = view.weights.reduce((n, w) => n + w.bytes / 4, 0);
  const bytes = view.weights.reduce((n, w) => n + w.bytes, 0);
  lines.push('', `Weights (${view.weights.length} tensors, ${values} values, ${formatBytes(bytes)})`);
  lines.push(
    ...renderTable(
      ['name', 'shape', 'dtype', 'size', 'min', 'max', 'mean', 'non-finite'],
      view.weights.map((w) => [
        w.name,
        formatShape(w.shape),
        w.dtype,
        formatBytes(w.bytes),
        formatNumber(w.min),
        formatNumber(w.max),
        formatNumber(w.mean),
        String(w.nonFinite),
      ]),
      ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  lines.push('');
  if (view.optimizer === null) {
    lines.push('Optimizer: none saved (the model was not compiled)');
  } else {
    const o = view.optimizer;
    lines.push(`Optimizer ${o.className}, iteration ${o.iteration ?? 'unknown'} (${o.weights.length} variables)`);
    lines.push(...renderSpecs(o.weights));
    if (o.hidden.length > 0) lines.push(`  kept outside getWeights(): ${o.hidden.map((h) => `${h.name} ${formatShape(h.shape)}`).join(', ')}`);
  }
  lines.push('', view.extras.length === 0 ? 'Extras: none' : `Extras (${view.extras.length})`);
  for (const extra of view.extras) {
    const head = `  ${extra.name} (${formatBytes(extra.sizeBytes)})`;
    if (extra.decodeError !== undefined) lines.push(`${head}: cannot decode: ${extra.decodeError}`);
    else if (extra.kind === 'fit-position') lines.push(`${head}: resumableFit position: ${describeFitPosition(extra.fitPosition as JsonValue)}`);
    else if (extra.kind === 'dataset-state') lines.push(`${head}: input pipeline state`, ...renderDatasetState(extra.datasetState as DatasetStateView, '    '));
    else lines.push(`${head}: opaque bytes`);
  }
  return lines;
}

/** `{epoch, stepInEpoch}` in words, as resumableFit stores them (the epoch 0-based). */
function describeFitPosition(position: JsonValue): string {
  const p = position as { epoch?: unknown; stepInEpoch?: unknown } | null;
  if (p === null || typeof p !== 'object' || typeof p.epoch !== 'number' || typeof p.stepInEpoch !== 'number') return JSON.stringify(position);
  return `epoch ${p.epoch} (0-based, as tfjs counts), ${p.stepInEpoch} batch${p.stepInEpoch === 1 ? '' : 'es'} of it done`;
}

function renderInput(view: InputInspectJson): string[] {
  const lines = [`Input checkpoint ${view.location}/${view.path}`];
  lines.push(
    ...renderPairs([
      ['index', view.indexName],
      ['step', String(view.step)],
      ['size', formatBytes(view.sizeBytes)],
      ['pipelines', String(view.pipelines.length)],
    ]),
  );
  view.pipelines.forEach((p, i) => {
    lines.push('', `Pipeline ${i + 1} of ${view.pipelines.length}`, ...renderDatasetState(p, '  '));
  });
  return lines;
}

/** Opens the modelDir that holds `leaf`, saying which path was wrong if it does not exist. */
async function openParent(target: string, parent: string): Promise<CheckpointStorage> {
  const storage = openModelDir(parent);
  try {
    await storage.list(MODEL_CHECKPOINT_PREFIX);
  } catch (e) {
    closeStorage(storage);
    if (e instanceof CheckpointNotFoundError) throw new CheckpointNotFoundError(`${target} does not exist: ${EXPECTED}.`);
    throw e;
  }
  return storage;
}

async function inspectModel(storage: CheckpointStorage, target: string, dir: string, step: number): Promise<ModelInspectJson> {
  if ((await storage.list(dir)).length === 0) {
    throw new CheckpointNotFoundError(`${target} does not exist: ${EXPECTED}.`);
  }
  return modelJson(storage, await readModelCheckpoint(storage, dir, step));
}

async function inspectInput(
  storage: CheckpointStorage,
  target: string,
  blob: InputSeriesName & { step: number },
): Promise<InputInspectJson> {
  const { indexName, prefix, step } = blob;
  const path = `${prefix}-${step}`;
  let payload: Uint8Array;
  try {
    payload = await readInputBlob(storage, { indexName, prefix }, step);
  } catch (e) {
    if (e instanceof CheckpointNotFoundError) throw new CheckpointNotFoundError(`${target} does not exist: ${EXPECTED}.`);
    throw e;
  }
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    kind: 'input',
    location: storage.location,
    path,
    indexName,
    prefix,
    step,
    sizeBytes: (await storage.stat(path))?.size ?? 0,
    pipelines: decodeInputBlob(payload, `${storage.location}/${path}`).map(viewDatasetState),
  };
}

/** The latest model checkpoint of a modelDir: the index's latest, else (no usable index) the newest directory. */
async function inspectLatest(storage: CheckpointStorage, target: string): Promise<ModelInspectJson> {
  let infos;
  try {
    infos = await listCheckpoints(storage);
  } catch (e) {
    if (e instanceof CheckpointNotFoundError) throw new CheckpointNotFoundError(`${target} does not exist: ${EXPECTED}.`);
    throw e;
  }
  const latest = infos.find((c) => c.latest) ?? infos[infos.length - 1];
  if (latest === undefined) throw new CheckpointNotFoundError(`${target} holds no model checkpoint: ${EXPECTED}.`);
  return modelJson(storage, await readModelCheckpoint(storage, latest.path, latest.step));
}

/**
 * Runs `inspect <path>`: reads (and verifies) a model checkpoint, an input checkpoint, or a modelDir's latest
 * model checkpoint and returns its description as text or JSON. Throws `CheckpointNotFoundError` for a wrong
 * path and `CorruptCheckpointError` for a damaged checkpoint.
 */
export async function runInspect(target: string, json: boolean): Promise<string> {
  const { parent, leaf } = splitPath(target);
  let view: InspectJson;
  const modelStep = stepOfPath(leaf, MODEL_CHECKPOINT_PREFIX);
  const inputBlob = parseInputBlobName(leaf);
  if (parent !== null && (modelStep !== null || inputBlob !== null)) {
    const storage = await openParent(target, parent);
    try {
      view = modelStep !== null
        ? await inspectModel(storage, target, leaf, modelStep)
        : await inspectInput(storage, target, inputBlob as InputSeriesName & { step: number });
    } finally {
      closeStorage(storage);
    }
  } else {
    const storage = openModelDir(target);
    try {
      view = await inspectLatest(storage, target);
    } finally {
      closeStorage(storage);
    }
  }
  if (json) return JSON.stringify(view, null, 2) + '\n';
  return (view.kind === 'model' ? renderModel(view) : renderInput(view)).join('\n') + '\n';
}
