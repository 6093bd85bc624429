import * as tf from '@tensorflow/tfjs';
import type { JsonValue } from '../data/state';
import { CallbackStateError } from './errors';

/**
 * A hook or tfjs callback whose state rides in the model checkpoint, so a resumed run continues it
 * instead of starting it over (an early-stopping wait count, a timer's last trigger, a stop step).
 * `resumableFit` and the `Estimator` call `saveState()` synchronously when a checkpoint is taken and
 * `restoreState()` once per run, after the participant's own start (`onTrainBegin` / `begin`) and before
 * the first batch, so a reset done at start does not undo the restore.
 */
export interface StatefulCallback {
  /** The state now, JSON-safe (non-finite numbers through `encodeFloat`: `Infinity` as the string "Infinity"). */
  saveState(): JsonValue;
  /** Continue from a value `saveState()` returned, in this or an earlier process; throw when it is not one. */
  restoreState(state: JsonValue): void;
}

/** Whether `value` implements {@link StatefulCallback} itself. */
export function isStatefulCallback(value: unknown): value is StatefulCallback {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Partial<StatefulCallback>).saveState === 'function' &&
    typeof (value as Partial<StatefulCallback>).restoreState === 'function'
  );
}

/**
 * The state adapter of a participant: the participant itself when it implements the protocol, a built-in
 * adapter for tfjs's stateful callbacks (`tf.callbacks.earlyStopping`, the only stateful callback of tfjs
 * 4.22), else `undefined` (stateless: nothing to save).
 */
export function stateOf(participant: unknown): StatefulCallback | undefined {
  if (isStatefulCallback(participant)) return participant;
  if (participant instanceof tf.EarlyStopping) return earlyStoppingState(participant);
  return undefined;
}

/** The fields of tfjs's EarlyStopping that `onTrainBegin` resets and `onEpochEnd` advances. */
interface EarlyStoppingFields {
  wait: number;
  best: number;
  stoppedEpoch: number;
}

function earlyStoppingState(callback: tf.EarlyStopping): StatefulCallback {
  // tfjs declares these protected; they are the whole of EarlyStopping's run state.
  const fields = callback as unknown as EarlyStoppingFields;
  return {
    saveState: () => ({ wait: fields.wait, best: encodeFloat(fields.best), stoppedEpoch: fields.stoppedEpoch }),
    restoreState: (state) => {
      const record = requireRecord(state, 'EarlyStopping');
      fields.wait = requireNonNegativeInteger(record.wait, 'EarlyStopping.wait');
      fields.best = decodeFloat(record.best, 'EarlyStopping.best');
      fields.stoppedEpoch = requireNonNegativeInteger(record.stoppedEpoch, 'EarlyStopping.stoppedEpoch');
    },
  };
}

/** A number as JSON: finite numbers as themselves (exact round trip), `NaN` and `±Infinity` as strings. */
export function encodeFloat(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

/**
 * The number {@link encodeFloat} encoded.
 * @throws CallbackStateError naming `path` when `value` is not such an encoding.
 */
export function decodeFloat(value: JsonValue | undefined, path: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
  throw new CallbackStateError(`${path} must be a number (or "NaN", "Infinity", "-Infinity"), got ${JSON.stringify(value)}.`);
}

/**
 * `value` as a JSON object.
 * @throws CallbackStateError naming `path` otherwise.
 */
export function requireRecord(value: JsonValue | undefined, path: string): { [key: string]: JsonValue } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CallbackStateError(`${path} must be a JSON object, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/**
 * `value` as a non-negative integer.
 * @throws CallbackStateError naming `path` otherwise.
 */
export function requireNonNegativeInteger(value: JsonValue | undefined, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new CallbackStateError(`${path} must be a non-negative integer, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/**
 * `value` as a non-negative integer or `null`.
 * @throws CallbackStateError naming `path` otherwise.
 */
export function requireStepOrNull(value: JsonValue | undefined, path: string): number | null {
  return value === null ? null : requireNonNegativeInteger(value, path);
}
