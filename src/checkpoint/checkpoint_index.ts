import { CorruptCheckpointError, InvalidArgumentError } from '../errors';
import type { JsonValue } from '../data/state';
import { checkRelativePath } from './paths';
import { decodeChecksummedJson, encodeChecksummedJson, isJsonObject } from './safe_json';
import type { CheckpointStorage } from './storage';

/** One checkpoint named by an index file. */
export interface IndexEntry {
  step: number;
  /** Storage-relative path: `<prefix>-<step>`. */
  path: string;
}

/** Index files are small: a few entries per kept checkpoint. Anything bigger is refused unread. */
const MAX_INDEX_BYTES = 1024 * 1024;
const INDEX_FORMAT_VERSION = 1;

/** Checks a step read from a file (→ `CorruptCheckpointError`) or passed by a caller (`InvalidArgumentError`). */
export function checkStep(
  value: JsonValue | number | undefined,
  what: string,
  ErrorClass: typeof CorruptCheckpointError | typeof InvalidArgumentError = CorruptCheckpointError,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ErrorClass(`${what}: step ${String(value)} is not a non-negative integer.`);
  }
  return value;
}

/** Checks a checkpoint name prefix (`model.ckpt`, `input_worker_1.ckpt`): one plain path segment. */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(prefix)) {
    throw new InvalidArgumentError(
      `Checkpoint prefix ${JSON.stringify(prefix)} must be one file name of letters, digits, "_", "." or "-".`,
    );
  }
  return prefix;
}

/** `<prefix>-<step>`. */
export function checkpointPath(prefix: string, step: number): string {
  return `${prefix}-${step}`;
}

/** The step of `<prefix>-<step>`, or `null` when `name` is not such a name. */
export function stepOfPath(name: string, prefix: string): number | null {
  if (!name.startsWith(prefix + '-')) return null;
  const digits = name.slice(prefix.length + 1);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(digits)) return null;
  const step = Number(digits);
  return Number.isSafeInteger(step) ? step : null;
}

/**
 * Reads an index file (`checkpoint`, `checkpoint_input`, ...) and returns its entries sorted by step,
 * or `null` when there is none. Every entry must be exactly `<prefix>-<step>` inside the storage:
 * an entry naming `../../etc/passwd` or an absolute path throws `PathEscapeError`, anything else
 * malformed (or a checksum mismatch) throws `CorruptCheckpointError`.
 */
export async function readIndex(
  storage: CheckpointStorage,
  indexName: string,
  prefix: string,
): Promise<IndexEntry[] | null> {
  const st = await storage.stat(indexName);
  if (st === null) return null;
  const what = `Index ${storage.location}/${indexName}`;
  if (st.size > MAX_INDEX_BYTES) {
    throw new CorruptCheckpointError(`${what} is ${st.size} bytes, more than ${MAX_INDEX_BYTES}: refusing to read it.`);
  }
  const index = decodeChecksummedJson(await storage.read(indexName), MAX_INDEX_BYTES, what);
  if (index.formatVersion !== INDEX_FORMAT_VERSION) {
    throw new CorruptCheckpointError(
      `${what} has format version ${JSON.stringify(index.formatVersion)}; this version reads ${INDEX_FORMAT_VERSION}.`,
    );
  }
  const raw = index.checkpoints;
  if (!Array.isArray(raw)) throw new CorruptCheckpointError(`${what} has no "checkpoints" list.`);
  const entries = raw.map((entry, i): IndexEntry => {
    if (!isJsonObject(entry) || typeof entry.path !== 'string') {
      throw new CorruptCheckpointError(`${what}: entry #${i} is not {step, path}.`);
    }
    const path = checkRelativePath(entry.path, storage.location);
    const step = checkStep(entry.step, `${what}, entry #${i}`);
    if (path !== checkpointPath(prefix, step)) {
      throw new CorruptCheckpointError(
        `${what}: entry #${i} names ${JSON.stringify(entry.path)}, expected ${checkpointPath(prefix, step)}.`,
      );
    }
    return { step, path };
  });
  entries.sort((a, b) => a.step - b.step);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].step === entries[i - 1].step) {
      throw new CorruptCheckpointError(`${what} names step ${entries[i].step} twice.`);
    }
  }
  return entries;
}

/** Writes an index file atomically; the newest entry is recorded as `latest`. */
export async function writeIndex(storage: CheckpointStorage, indexName: string, entries: IndexEntry[]): Promise<void> {
  const sorted = [...entries].sort((a, b) => a.step - b.step);
  const body = encodeChecksummedJson({
    formatVersion: INDEX_FORMAT_VERSION,
    latest: sorted.length > 0 ? sorted[sorted.length - 1].path : null,
    checkpoints: sorted.map((e) => ({ step: e.step, path: e.path })),
  });
  await storage.writeAtomic(indexName, body);
}

/** Checks a `keepCheckpointMax`-style option: a non-negative integer (0 = keep all). */
export function checkKeepMax(keepMax: number, option: string): number {
  if (!Number.isSafeInteger(keepMax) || keepMax < 0) {
    throw new InvalidArgumentError(`${option} must be a non-negative integer (0 keeps all), got ${keepMax}.`);
  }
  return keepMax;
}
