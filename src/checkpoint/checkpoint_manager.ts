import * as tf from '@tensorflow/tfjs';
import { BackendFingerprint, currentBackendFingerprint, fingerprintDifferences } from '../backend_fingerprint';
import { CheckpointNotFoundError, CorruptCheckpointError, PathEscapeError } from '../errors';
import { IndexEntry, checkKeepMax } from './checkpoint_index';
import { CheckpointSeries, isUnusableCheckpoint } from './checkpoint_series';
import { parseModelDir, withStorage } from './open_storage';
import { concatTensorData } from './tensor_data';
import { CheckpointLogger, consoleLogger } from './logger';
import {
  CheckpointLimits,
  CheckpointMeta,
  DEFAULT_LIMITS,
  MODEL_CHECKPOINT_PREFIX,
  MODEL_INDEX_NAME,
  readCheckpointState,
  readModelCheckpoint,
  writeModelCheckpointFiles,
} from './model_checkpoint';
import {
  ModelSnapshot,
  applySnapshot,
  checkOptimizerFits,
  checkOptimizerPresent,
  checkWeightsFit,
  snapshotModel,
} from './model_snapshot';
import type { SnapshotFill } from './snapshot_fill';
import type { CheckpointStorage } from './storage';

/** A modelDir path or an already opened storage. */
export type ModelDirOrStorage = string | CheckpointStorage;

/** Default number of model checkpoints kept (TF's `max_to_keep`). */
export const DEFAULT_KEEP_CHECKPOINT_MAX = 5;

/** Options of {@link saveCheckpoint} (and of the internal `writeCheckpoint`). */
export interface SaveCheckpointOptions {
  /** Newest checkpoints kept; older ones are deleted after the new index is written. 0 keeps all. Default 5. */
  keepCheckpointMax?: number;
  /** Where dropped, corrupt and orphaned checkpoints found while saving are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
}

/** Options of {@link restoreLatest}. */
export interface RestoreOptions {
  /** Where fallbacks and backend changes are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
  /** Size limits applied before reading. */
  limits?: CheckpointLimits;
}

/** What {@link restoreLatest} restored. */
export interface RestoredCheckpoint {
  /** Steps completed when the checkpoint was written: continue counting from here. */
  globalStep: number;
  /** Epoch (0-based) training was in when the checkpoint was written. */
  epoch: number;
  /** Storage-relative path of the checkpoint directory (`model.ckpt-<step>`). */
  path: string;
  /** Backend that wrote it. */
  backend: string;
  /** What decided the writer's bits ({@link BackendFingerprint}); `{ backend }` for checkpoints before 0.2.0. */
  fingerprint: BackendFingerprint;
  /** Extra blobs saved with it. */
  extras: Record<string, Uint8Array>;
}

/** One line of {@link listCheckpoints} / {@link verifyCheckpoints}. */
export interface CheckpointInfo {
  /** Global step of the checkpoint, from its directory name (`model.ckpt-<step>`). */
  step: number;
  /** Storage-relative path of the checkpoint directory. */
  path: string;
  /** Epoch recorded in state.json, `null` when state.json is unreadable. */
  epoch: number | null;
  /** Total bytes of the checkpoint's files. */
  sizeBytes: number;
  /** `createdAt` of state.json (informational), `null` when unreadable. */
  createdAt: string | null;
  /** Named by the index file (a checkpoint outside it is an interrupted or orphaned write). */
  inIndex: boolean;
  /** The index's latest. */
  latest: boolean;
  /**
   * `'corrupt'` when its `state.json` (and, for {@link verifyCheckpoints}, any of its files) fails its checks;
   * `'ok'` otherwise.
   */
  status: 'ok' | 'corrupt';
  /** Why it is corrupt; also set (`index unreadable: ...`) on every entry when the index file is damaged. */
  reason?: string;
}

/** The model checkpoint series of a storage: `model.ckpt-<step>/` directories named by the index `checkpoint`. */
export function modelSeries(storage: CheckpointStorage, logger: CheckpointLogger = consoleLogger): CheckpointSeries {
  return new CheckpointSeries(storage, {
    indexName: MODEL_INDEX_NAME,
    prefix: MODEL_CHECKPOINT_PREFIX,
    layout: 'directory',
    verify: async (path, step) => void (await readModelCheckpoint(storage, path, step)),
    logger,
  });
}

/**
 * Writes a snapshot as checkpoint `model.ckpt-<globalStep>` and makes it the latest: files first, the
 * index last (atomically), then deletes checkpoints beyond `keepCheckpointMax`. A crash at any point
 * leaves the previous index, naming only complete checkpoints. The caller holds the modelDir lock.
 */
export async function writeCheckpoint(
  modelDir: ModelDirOrStorage,
  snapshot: ModelSnapshot,
  meta: CheckpointMeta,
  options: SaveCheckpointOptions = {},
): Promise<string> {
  return withStorage(modelDir, {}, async (storage) => {
    const written = await commitCheckpoint(storage, snapshot, meta, options);
    await written.applyRetention();
    return written.path;
  });
}

/** A checkpoint written and made latest, with its series' retention still to apply. */
export interface CommittedCheckpoint {
  /** Storage-relative path of the checkpoint (`model.ckpt-<step>`). */
  path: string;
  /** Deletes what retention drops (see `CheckpointSeries.applyRetention`). */
  applyRetention: () => Promise<void>;
}

/**
 * Writes a checkpoint's files and makes it the index's latest, leaving retention to the caller: the
 * checkpoint writer acknowledges the save first (retention reads and deletes older checkpoints). With
 * `fill`, the snapshot is still being copied: each chunk is written once it is (see `SnapshotFill`).
 */
export async function commitCheckpoint(
  storage: CheckpointStorage,
  snapshot: ModelSnapshot,
  meta: CheckpointMeta,
  options: SaveCheckpointOptions,
  fill?: SnapshotFill,
): Promise<CommittedCheckpoint> {
  const keepMax = checkKeepMax(options.keepCheckpointMax ?? DEFAULT_KEEP_CHECKPOINT_MAX, 'keepCheckpointMax');
  const series = modelSeries(storage, options.logger);
  const plan = await series.beginSave(meta.globalStep);
  await storage.delete(plan.path);
  await writeModelCheckpointFiles(storage, plan.path, snapshot, meta, fill);
  const committed = await series.commitSave(plan);
  return { path: plan.path, applyRetention: () => series.applyRetention(committed, keepMax) };
}

/**
 * Saves `model` (weights, optimizer state) with training position `meta` into a modelDir and returns
 * the checkpoint's path. Files are written first and the index last (atomically), then checkpoints beyond
 * `keepCheckpointMax` are deleted: a crash at any point leaves the previous index, naming only complete checkpoints.
 */
export async function saveCheckpoint(
  model: tf.LayersModel,
  modelDir: ModelDirOrStorage,
  meta: CheckpointMeta,
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const snapshot = await snapshotModel(model);
  return writeCheckpoint(modelDir, snapshot, meta, options);
}

/**
 * Restores the newest usable checkpoint of a modelDir into `model` (which must be built, and compiled
 * with the same optimizer when the checkpoint holds optimizer state): weights, optimizer slots and
 * iteration count, so training continues exactly as if never interrupted. A corrupt or truncated
 * newest checkpoint is reported through the logger and the previous one is used. Returns `null` when
 * the modelDir holds no checkpoint. Throws `CheckpointError` (naming the layer and both shapes) when
 * the checkpoint does not fit the model, before any weight is changed, and `CorruptCheckpointError`
 * when checkpoints exist but none is usable.
 */
export async function restoreLatest(
  model: tf.LayersModel,
  modelDir: ModelDirOrStorage,
  options: RestoreOptions = {},
): Promise<RestoredCheckpoint | null> {
  const logger = options.logger ?? consoleLogger;
  return withStorage(modelDir, { local: { readOnly: true } }, async (storage) => {
    if (typeof modelDir === 'string' && !(await storageExists(storage))) return null;
    return restoreFrom(storage, model, logger, options.limits ?? DEFAULT_LIMITS);
  });
}

async function restoreFrom(
  storage: CheckpointStorage,
  model: tf.LayersModel,
  logger: CheckpointLogger,
  limits: CheckpointLimits,
): Promise<RestoredCheckpoint | null> {
  const tried = await modelSeries(storage, logger).candidates();
  const problems: string[] = [];
  for (const entry of tried) {
    let ckpt;
    try {
      ckpt = await readModelCheckpoint(storage, entry.path, entry.step, limits);
      checkOptimizerPresent(model, ckpt.optimizer);
    } catch (e) {
      if (!isUnusableCheckpoint(e)) throw e;
      problems.push(e.message);
      logger.warn(`Checkpoint ${storage.location}/${entry.path} is unusable: ${e.message} Falling back to the previous checkpoint.`);
      continue;
    }
    const source = `Checkpoint ${storage.location}/${ckpt.path}`;
    checkWeightsFit(model, ckpt.weights, source);
    if (ckpt.optimizer) checkOptimizerFits(model, ckpt.optimizer, source);
    const differences = fingerprintDifferences(ckpt.state.fingerprint, currentBackendFingerprint());
    if (differences.length > 0) {
      logger.warn(
        `${source} was written under another backend setup than this run's (${differences.join(', ')}): ` +
          'training continues correctly but not bit for bit like an uninterrupted run. ' +
          'Resume with the setup it was written under to get the same bits.',
      );
    }
    await applySnapshot(model, ckpt.weights, ckpt.optimizer);
    return {
      globalStep: ckpt.state.globalStep,
      epoch: ckpt.state.epoch,
      path: ckpt.path,
      backend: ckpt.state.backend,
      fingerprint: ckpt.state.fingerprint,
      extras: ckpt.extras,
    };
  }
  if (tried.length === 0) return null;
  throw new CorruptCheckpointError(
    `None of the ${tried.length} checkpoints in ${storage.location} is usable:\n  ${problems.join('\n  ')}\n` +
      'Delete the modelDir to start over, or restore its files from a backup.',
  );
}

async function storageExists(storage: CheckpointStorage): Promise<boolean> {
  try {
    await storage.list(MODEL_CHECKPOINT_PREFIX);
    return true;
  } catch (e) {
    if (e instanceof CheckpointNotFoundError) return false;
    throw e;
  }
}

async function describe(storage: CheckpointStorage, deep: boolean): Promise<CheckpointInfo[]> {
  let indexed: IndexEntry[] = [];
  let indexProblem: string | undefined;
  const series = modelSeries(storage);
  try {
    indexed = (await series.readIndex()) ?? [];
  } catch (e) {
    if (!isUnusableCheckpoint(e)) throw e;
    indexProblem = e.message;
  }
  const byStep = new Map<number, IndexEntry>();
  for (const e of [...(await series.scan(true)), ...indexed]) byStep.set(e.step, e);
  const latest = indexed.length > 0 ? indexed[indexed.length - 1].step : null;
  const infos: CheckpointInfo[] = [];
  for (const entry of [...byStep.values()].sort((a, b) => a.step - b.step)) {
    const info: CheckpointInfo = {
      step: entry.step,
      path: entry.path,
      epoch: null,
      sizeBytes: 0,
      createdAt: null,
      inIndex: indexed.some((e) => e.step === entry.step),
      latest: entry.step === latest,
      status: 'ok',
    };
    for (const rel of await storage.list(entry.path)) {
      // A symlink out of modelDir is reported below as the checkpoint's corruption, not sized.
      info.sizeBytes += (await storage.stat(rel).catch((e: unknown) => (e instanceof PathEscapeError ? null : Promise.reject(e))))?.size ?? 0;
    }
    try {
      const state = deep
        ? (await readModelCheckpoint(storage, entry.path, entry.step)).state
        : await readCheckpointState(storage, entry.path);
      info.epoch = state.epoch;
      info.createdAt = state.createdAt;
    } catch (e) {
      if (!isUnusableCheckpoint(e)) throw e;
      info.status = 'corrupt';
      info.reason = e.message;
    }
    infos.push(info);
  }
  if (indexProblem !== undefined) {
    for (const info of infos) info.reason ??= `index unreadable: ${indexProblem}`;
  }
  return infos;
}

/**
 * Lists the model checkpoints of a modelDir (indexed and orphaned), oldest first, checking only each
 * `state.json`: cheap enough for a CLI listing.
 */
export async function listCheckpoints(modelDir: ModelDirOrStorage): Promise<CheckpointInfo[]> {
  return withStorage(modelDir, { local: { readOnly: true } }, (storage) => describe(storage, false));
}

/** Like {@link listCheckpoints} but verifies every file of every checkpoint (sizes, CRC-32s, manifests). */
export async function verifyCheckpoints(modelDir: ModelDirOrStorage): Promise<CheckpointInfo[]> {
  return withStorage(modelDir, { local: { readOnly: true } }, (storage) => describe(storage, true));
}

/**
 * A tfjs `IOHandler` that loads a model checkpoint's model.json + weights.bin after verifying their
 * checksums: `await tf.loadLayersModel(checkpointModelHandler('s3://bucket/run-1'))` loads the latest
 * checkpoint, `checkpointModelHandler('./run-1', 'model.ckpt-100')` a given one. The modelDir is opened
 * when tfjs calls `load` (and closed after, when opened from a string).
 * @param modelDir a path, `file://` or `s3://bucket/prefix` URL, or an opened storage.
 * @param checkpoint the checkpoint directory (`model.ckpt-<step>`); default: the index's latest.
 */
export function checkpointModelHandler(modelDir: ModelDirOrStorage, checkpoint?: string): tf.io.IOHandler {
  // Refuse a bad modelDir when the handler is made, not when tfjs first loads (opening here would build an
  // S3 client that nothing closes).
  if (typeof modelDir === 'string') parseModelDir(modelDir);
  return {
    load: () =>
      withStorage(modelDir, { local: { readOnly: true } }, async (storage): Promise<tf.io.ModelArtifacts> => {
        let dir = checkpoint;
        if (dir === undefined) {
          const latest = await modelSeries(storage).readIndex().then((entries) => entries?.[entries.length - 1]);
          if (latest === undefined) {
            throw new CheckpointNotFoundError(`${storage.location} holds no indexed model checkpoint to load.`);
          }
          dir = latest.path;
        }
        const ckpt = await readModelCheckpoint(storage, dir, null);
        const weightData = concatTensorData(ckpt.weights);
        return {
          modelTopology: ckpt.modelTopology as unknown as object,
          format: 'layers-model',
          weightSpecs: ckpt.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })),
          // The tensors may be views into a larger buffer (the file as read): hand tfjs exactly the weights.
          weightData: (weightData.byteOffset === 0 && weightData.byteLength === weightData.buffer.byteLength
            ? weightData.buffer
            : weightData.slice().buffer) as ArrayBuffer,
        };
      }),
  };
}
