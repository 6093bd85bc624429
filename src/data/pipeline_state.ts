import { BlobReader } from './blob';
import { PipelineMismatchError, StateFormatError } from './errors';
import type { CheckpointableIterator } from './iterator';
import { PipelineNode, walkNodes } from './node';
import { RngState, parseRngState } from './rng';
import type { DatasetState } from './state';
import { readArray, readObject } from './state_fields';

/**
 * Version of the `DatasetState` layout written by this package. Version 2 is plain JSON (buffers hold base64
 * strings, there is no `blob`), so `JSON.parse(JSON.stringify(state))` restores exactly; version 1 (binary `blob`)
 * is still read.
 */
export const DATASET_STATE_FORMAT_VERSION = 2;

/** Ops and arguments of the pipeline below `root` in pre-order, one entry per node: the identity checked on restore. */
export function pipelineFingerprint(root: PipelineNode<unknown>): string {
  return JSON.stringify(walkNodes(root).map((n) => n.describe()));
}

function rngNodes(root: PipelineNode<unknown>): PipelineNode<unknown>[] {
  return walkNodes(root).filter((n) => n.datasetRng() !== null);
}

/**
 * The one saved form of a position: the pipeline identity, every shuffle's dataset-level RNG and the position of
 * `live` (an iterator of `root`, or `null`). Both `CheckpointableDataset.saveState()` and
 * `CheckpointableIterator.saveState()` return this, so a user saves one thing.
 */
export function savePipelineState(root: PipelineNode<unknown>, live: CheckpointableIterator<unknown> | null): DatasetState {
  return {
    formatVersion: DATASET_STATE_FORMAT_VERSION,
    fingerprint: pipelineFingerprint(root),
    dataset: { rngs: rngNodes(root).map((n) => ({ ...(n.datasetRng() as NonNullable<ReturnType<typeof n.datasetRng>>).state() })) },
    iterator: live === null ? null : live.save(),
  };
}

/** A state validated against a pipeline, nothing applied yet. */
export interface CheckedPipelineState<T> {
  /** A fresh iterator of the pipeline already at the saved position, or `null` when the state holds none. */
  probe: CheckpointableIterator<T> | null;
  /** Set the pipeline's dataset-level RNGs to the saved ones. */
  applyRngs: () => void;
  /** The binary segments of a format-1 state (empty for format 2). */
  blobs: BlobReader;
}

/**
 * Validate `state` completely against the pipeline below `root` (header, fingerprint, RNGs, and the iterator
 * position restored onto a fresh iterator), changing nothing: throws `StateFormatError` naming the JSON path of the
 * first bad field, or `PipelineMismatchError` naming the first differing op.
 */
export function checkPipelineState<T>(root: PipelineNode<T>, state: DatasetState): CheckedPipelineState<T> {
  if (state === null || typeof state !== 'object') throw new StateFormatError('Dataset state must be an object.');
  if (typeof state.formatVersion !== 'number' || !Number.isInteger(state.formatVersion) || state.formatVersion < 1) {
    throw new StateFormatError(`Dataset state formatVersion must be a positive integer, got ${JSON.stringify(state.formatVersion)}.`);
  }
  if (state.formatVersion > DATASET_STATE_FORMAT_VERSION) {
    throw new StateFormatError(
      `Dataset state has formatVersion ${state.formatVersion}, newer than ${DATASET_STATE_FORMAT_VERSION} understood here; upgrade tfjs-resumable.`,
    );
  }
  if (typeof state.fingerprint !== 'string') throw new StateFormatError('Dataset state fingerprint must be a string.');
  if (state.blob !== undefined) {
    if (state.formatVersion !== 1) throw new StateFormatError(`blob: format ${state.formatVersion} states carry no blob (binary parts are base64 inside the JSON).`);
    if (!(state.blob instanceof Uint8Array)) throw new StateFormatError('Dataset state blob must be a Uint8Array.');
  }
  checkFingerprint(pipelineFingerprint(root), state.fingerprint);
  const nodes = rngNodes(root);
  const rngs = readArray(readObject(state.dataset, 'dataset').rngs, 'dataset.rngs');
  if (rngs.length !== nodes.length) {
    throw new StateFormatError(`dataset.rngs: state has ${rngs.length} shuffle RNGs, the pipeline has ${nodes.length}.`);
  }
  const parsed: RngState[] = rngs.map((r, i) => parseRngState(r, `dataset.rngs[${i}]`));
  if (state.iterator === undefined) throw new StateFormatError('iterator: missing (use null when no iterator existed).');
  const blobs = new BlobReader(state.blob);
  let probe: CheckpointableIterator<T> | null = null;
  if (state.iterator !== null) {
    probe = root.createIterator(false);
    probe.restore(state.iterator, blobs, 'iterator');
  }
  return { probe, applyRngs: () => nodes.forEach((n, i) => n.datasetRng()?.setState(parsed[i])), blobs };
}

/** Throw `PipelineMismatchError` naming the first op that differs between two fingerprints. */
function checkFingerprint(expected: string, actual: string): void {
  if (expected === actual) return;
  const mine = JSON.parse(expected) as string[];
  let theirs: unknown;
  try {
    theirs = JSON.parse(actual);
  } catch {
    throw new StateFormatError('Dataset state fingerprint is not valid JSON.');
  }
  if (!Array.isArray(theirs) || theirs.some((x) => typeof x !== 'string')) {
    throw new StateFormatError('Dataset state fingerprint must be a JSON list of op descriptions.');
  }
  const n = Math.max(mine.length, theirs.length);
  for (let i = 0; i < n; i++) {
    if (mine[i] !== theirs[i]) {
      const memory = inMemoryContentChange(mine[i], theirs[i] as string | undefined);
      if (memory === 'unchecked') continue;
      if (memory !== null) {
        throw new PipelineMismatchError(
          `The saved state belongs to other data: op ${i} reads in-memory values that changed since the state was saved ` +
            `(${memory}), so its saved positions would point at other elements: ${mine[i]}. Pass the same values, or ` +
            'build the source with { verifyContent: false } if they change between runs on purpose.',
        );
      }
      const changed = contentChange(mine[i], theirs[i] as string | undefined);
      if (changed === 'unchecked') continue;
      if (changed === 'unhashed') {
        throw new PipelineMismatchError(
          `The saved state carries no hash of the file that op ${i} reads (it was saved by 0.1.0 or with ` +
            `{ verifyContent: false }), so whether the file changed cannot be checked: ${mine[i]}. Build the source ` +
            'with { verifyContent: false } to resume it anyway, or start without the saved state.',
        );
      }
      if (changed !== null) {
        throw new PipelineMismatchError(
          `The saved state belongs to other data: op ${i} reads a file whose content changed since the state was saved ` +
            `(${changed}), so its saved byte offsets would point at other lines: ${mine[i]}. Restore the original file, ` +
            'or start without the saved state.',
        );
      }
      throw new PipelineMismatchError(
        `The saved state belongs to a different pipeline: op ${i}: expected ${mine[i] ?? '(nothing)'}, state has ${
          (theirs[i] as string | undefined) ?? '(nothing)'
        }. Rebuild the pipeline exactly as when the state was saved.`,
      );
    }
  }
}

/** Matches the `content=` part of a file source description (`textLines(...)`, `csv[...](...)`). */
const CONTENT_ARG = /, content=([^,)]+)\)$/;

/**
 * How two file source descriptions differ: `"<saved> then, <now> now"` when only their content hashes differ;
 * `'unchecked'` when this run's source was built with `verifyContent: false` (no hash) and they agree otherwise;
 * `'unhashed'` when only the saved one lacks a hash; else `null`.
 */
function contentChange(expected: string | undefined, actual: string | undefined): string | 'unchecked' | 'unhashed' | null {
  if (expected === undefined || actual === undefined) return null;
  const now = CONTENT_ARG.exec(expected);
  const then = CONTENT_ARG.exec(actual);
  const mineBase = now === null ? expected : `${expected.slice(0, now.index)})`;
  const theirBase = then === null ? actual : `${actual.slice(0, then.index)})`;
  if (mineBase !== theirBase || (now === null && then === null)) return null;
  if (now === null) return 'unchecked';
  if (then === null) return 'unhashed';
  return `hash ${then[1]} then, ${now[1]} now`;
}

/** An in-memory source description (`array(...)`, `tensorSlices(...)`) split into its arguments and its value hash. */
const IN_MEMORY_SOURCE = /^(array|tensorSlices)\((.*?)(?:, (?:crc32|content)=([^,)]+))?\)$/;

/**
 * How two in-memory source descriptions differ: `"<saved> then, <now> now"` when only their value hashes differ;
 * `'unchecked'` when they agree except that one side carries no hash (a state written before in-memory content was
 * hashed, or a source built with `verifyContent: false`): nothing to compare, so not refused; else `null`.
 */
function inMemoryContentChange(expected: string | undefined, actual: string | undefined): string | 'unchecked' | null {
  if (expected === undefined || actual === undefined) return null;
  const now = IN_MEMORY_SOURCE.exec(expected);
  const then = IN_MEMORY_SOURCE.exec(actual);
  if (now === null || then === null || now[1] !== then[1] || now[2] !== then[2]) return null;
  if (now[3] === undefined || then[3] === undefined) return 'unchecked';
  return `hash ${then[3]} then, ${now[3]} now`;
}
