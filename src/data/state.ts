/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Saved position of a whole input pipeline: everything needed to continue exactly where it was.
 * Small by design: source cursors, buffer positions and RNG states, not element copies (except for
 * elements of a source that cannot be re-read, stored as base64). Plain JSON since format 2: it
 * survives `JSON.parse(JSON.stringify(state))`.
 */
export interface DatasetState {
  /** Version of this layout; a state from a newer version is refused. */
  formatVersion: number;
  /** Identity of the pipeline (ops, arguments, source identity); restoring onto another pipeline fails. */
  fingerprint: string;
  /** Dataset-level state: the per-dataset RNGs that reseed each new `iterator()`. */
  dataset: JsonValue;
  /** State of the live iterator, or `null` when no iterator had been created. */
  iterator: JsonValue | null;
  /**
   * Format 1 only: binary segments the JSON referred to (buffer keys, materialized elements). Format-2 states
   * never have it; they keep those parts as base64 strings inside `iterator`.
   */
  blob?: Uint8Array;
}
