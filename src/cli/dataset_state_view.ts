import type { DatasetState, JsonValue } from '../data/state';
import { formatBytes, renderJson } from './format';
import { PositionSummary, summarizePosition } from './position_summary';

/** A decoded input pipeline state as `inspect` shows it (`--json` field names). */
export interface DatasetStateView {
  formatVersion: number;
  /**
   * The pipeline's ops in order (its fingerprint: op names and arguments), e.g. `range(0,32,1)`; `null` when
   * the fingerprint is not the usual JSON list, then `fingerprint` holds it raw.
   */
  ops: string[] | null;
  fingerprint?: string;
  /** Dataset-level state (the RNGs that reseed each new iterator). */
  dataset: JsonValue;
  /** Position of the live iterator, `null` when no iterator had been created. */
  iterator: JsonValue | null;
  /** Bytes of the state's binary part (format 1 only: shuffle-buffer indices, elements of non-replayable sources); 0 when none. */
  blobBytes: number;
  /** The position in words (epoch, batch, buffer fill, per-op positions); `null` when the state's shape is not recognized. */
  position: PositionSummary | null;
}

function opsOf(fingerprint: string): string[] | null {
  try {
    const parsed: unknown = JSON.parse(fingerprint);
    return Array.isArray(parsed) && parsed.every((op): op is string => typeof op === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** Summarizes a decoded `DatasetState` for display. */
export function viewDatasetState(state: DatasetState): DatasetStateView {
  const ops = opsOf(state.fingerprint);
  return {
    formatVersion: state.formatVersion,
    ops,
    ...(ops === null ? { fingerprint: state.fingerprint } : {}),
    dataset: state.dataset,
    iterator: state.iterator,
    blobBytes: state.blob?.byteLength ?? 0,
    position: ops === null ? null : summarizePosition(ops, state.iterator),
  };
}

/** Human rendering of a {@link DatasetStateView}, every line prefixed by `indent`. */
export function renderDatasetState(view: DatasetStateView, indent: string): string[] {
  const lines = [`${indent}state format version ${view.formatVersion}`];
  if (view.ops === null) {
    lines.push(`${indent}fingerprint (not an op list): ${view.fingerprint}`);
  } else {
    lines.push(`${indent}pipeline (${view.ops.length} ops):`, ...view.ops.map((op, i) => `${indent}  ${i + 1}. ${op}`));
  }
  if (view.position !== null) {
    lines.push(`${indent}position: ${view.position.headline}`, ...view.position.details.map((d) => `${indent}  ${d}`));
  } else if (view.iterator === null) {
    lines.push(`${indent}iterator: none created yet`);
  } else {
    // Not a shape this version writes: show it raw rather than guess.
    lines.push(`${indent}iterator state (not recognized, raw):`, ...renderJson(view.iterator, indent + '  '));
  }
  const rngs = (view.dataset as { rngs?: unknown } | null)?.rngs;
  const rngCount = Array.isArray(rngs) ? rngs.length : 0;
  lines.push(`${indent}shuffle reseeding: ${rngCount === 0 ? 'none (no shuffle)' : `${rngCount} RNG state${rngCount === 1 ? '' : 's'} saved (raw values in --json)`}`);
  if (view.blobBytes > 0) lines.push(`${indent}binary part: ${formatBytes(view.blobBytes)}`);
  return lines;
}
