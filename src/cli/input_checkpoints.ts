import { BlobCheckpointStore } from '../checkpoint/blob_checkpoint_store';
import { CheckpointSeries, isUnusableCheckpoint } from '../checkpoint/checkpoint_series';
import { IndexEntry } from '../checkpoint/checkpoint_index';
import {
  INPUT_INDEX_NAME_PATTERN,
  decodeInputBlob,
  parseInputBlobName,
  seriesOfIndex,
  type InputSeriesName,
} from '../checkpoint/input_checkpoint';
import type { CheckpointStorage } from '../checkpoint/storage';
import { CheckpointError, CheckpointNotFoundError } from '../errors';

/** One input-pipeline checkpoint blob, as `list` and `verify` report it (`--json` field names). */
export interface InputCheckpointInfo extends InputSeriesName {
  step: number;
  /** Storage-relative path, `<prefix>-<step>`. */
  path: string;
  /** Size of the stored (framed) blob; 0 when it is missing. */
  sizeBytes: number;
  /** Modification time reported by the storage (ISO 8601), `null` when the blob is missing. */
  modifiedAt: string | null;
  /** Named by the series' index file. */
  inIndex: boolean;
  /** The index's newest entry. */
  latest: boolean;
  status: 'ok' | 'corrupt';
  /** Why it is corrupt, or why the index could not be used. */
  reason?: string;
}

/** A series with its index status and blobs, oldest first. */
export interface InputSeriesInfo extends InputSeriesName {
  /** `missing` when there is no index file (blobs found only by scanning), `corrupt` when it is unreadable. */
  indexStatus: 'ok' | 'missing' | 'corrupt';
  indexReason?: string;
  checkpoints: InputCheckpointInfo[];
}

/**
 * Every input checkpoint series in a modelDir, found from its index files (`checkpoint_input*`) and from
 * blobs without an index (an interrupted first save, a deleted index), sorted by index name.
 */
export async function discoverInputSeries(storage: CheckpointStorage): Promise<InputSeriesName[]> {
  const names = new Set<string>();
  // `list` takes a directory, not a name prefix: list the root once and keep index files and blobs.
  for (const rel of await storage.list('')) {
    if (INPUT_INDEX_NAME_PATTERN.test(rel)) names.add(rel);
    const blob = parseInputBlobName(rel);
    if (blob !== null) names.add(blob.indexName);
  }
  return [...names].sort().map(seriesOfIndex);
}

function storeOf(storage: CheckpointStorage, series: InputSeriesName): BlobCheckpointStore {
  // Nothing is written or restored through this store: the logger would only hear about fallbacks.
  return new BlobCheckpointStore(storage, { ...series, logger: { warn: () => undefined } });
}

function seriesOf(storage: CheckpointStorage, series: InputSeriesName): CheckpointSeries {
  return new CheckpointSeries(storage, {
    ...series,
    layout: 'blob',
    verify: async (_path, step) => void (await readInputBlob(storage, series, step)),
  });
}

/**
 * Reads and verifies one input checkpoint blob (frame magic, length, CRC-32) and returns its payload.
 * `CheckpointNotFoundError` when absent, `CorruptCheckpointError` when damaged.
 */
export async function readInputBlob(storage: CheckpointStorage, series: InputSeriesName, step: number): Promise<Uint8Array> {
  return storeOf(storage, series).read(step);
}

/**
 * Describes one series: every blob the index names or the storage holds, each verified (frame and CRC;
 * with `deep`, also decoded down to the pipeline states, as a restore would).
 */
export async function describeInputSeries(
  storage: CheckpointStorage,
  series: InputSeriesName,
  deep: boolean,
): Promise<InputSeriesInfo> {
  const info: InputSeriesInfo = { ...series, indexStatus: 'ok', checkpoints: [] };
  let indexed: IndexEntry[] = [];
  try {
    const entries = await seriesOf(storage, series).readIndex();
    if (entries === null) info.indexStatus = 'missing';
    else indexed = entries;
  } catch (e) {
    // A path-escaping entry (PathEscapeError) makes the index as unusable as a checksum failure does.
    if (!(e instanceof CheckpointError) || e instanceof CheckpointNotFoundError) throw e;
    info.indexStatus = 'corrupt';
    info.indexReason = e.message;
  }
  const steps = new Set(indexed.map((e) => e.step));
  for (const entry of await seriesOf(storage, series).scan()) steps.add(entry.step);
  const latest = indexed.length > 0 ? indexed[indexed.length - 1].step : null;
  for (const step of [...steps].sort((a, b) => a - b)) {
    const path = `${series.prefix}-${step}`;
    // A symlink out of modelDir (PathEscapeError) is reported below as this blob's corruption, not sized.
    const stat = await storage.stat(path).catch((e: unknown) => (isUnusableCheckpoint(e) ? null : Promise.reject(e)));
    const ckpt: InputCheckpointInfo = {
      ...series,
      step,
      path,
      sizeBytes: stat?.size ?? 0,
      modifiedAt: stat === null ? null : new Date(stat.mtimeMs).toISOString(),
      inIndex: indexed.some((e) => e.step === step),
      latest: step === latest,
      status: 'ok',
    };
    try {
      const payload = await readInputBlob(storage, series, step);
      if (deep) decodeInputBlob(payload, `${storage.location}/${path}`);
    } catch (e) {
      if (!isUnusableCheckpoint(e)) throw e;
      ckpt.status = 'corrupt';
      ckpt.reason = e instanceof CheckpointNotFoundError ? `${e.message} The index names it.` : e.message;
    }
    if (ckpt.status === 'ok' && info.indexStatus === 'corrupt') ckpt.reason = `index unreadable: ${info.indexReason}`;
    info.checkpoints.push(ckpt);
  }
  return info;
}
