import * as tf from '@tensorflow/tfjs';
import type { JsonValue } from '../data/state';
import { parseBoundedJson } from '../checkpoint/safe_json';
import { CorruptCheckpointError } from '../errors';
import { decodeFloat, encodeFloat, requireNonNegativeInteger, requireRecord } from '../hooks/callback_state';

/** The params tfjs hands every callback (epochs, steps, metrics, ...). */
type CallbackParams = Parameters<tf.History['setParams']>[0];

/** Name of the extra blob that carries the epoch logs of a run's finished epochs. */
export const FIT_HISTORY_SAVEABLE_NAME = 'fit_history';

/** The finished epochs of a run and their logs, as tfjs's `History` holds them once synced. */
export interface HistoryRecord {
  /** The epochs (0-based), in order. */
  epoch: number[];
  /** Per log name, one value per epoch that reported it. */
  history: Record<string, number[]>;
}

/**
 * Records every epoch end it sees, resolved to numbers, across all `fit` calls of one run and across
 * restarts (its record rides in the checkpoint), so the run's History is the one an uninterrupted
 * `fitDataset` would have returned. tfjs's own History restarts with every `fit` call.
 */
export class HistoryRecorder extends tf.Callback {
  private record: HistoryRecord = { epoch: [], history: {} };
  private lastParams: CallbackParams | undefined;

  /** Continue from a restored record. */
  resumeWith(record: HistoryRecord): void {
    this.record = { epoch: [...record.epoch], history: Object.fromEntries(Object.entries(record.history).map(([k, v]) => [k, [...v]])) };
  }

  override setParams(params: CallbackParams): void {
    super.setParams(params);
    this.lastParams = params;
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    this.record.epoch.push(epoch);
    for (const [key, value] of Object.entries((logs ?? {}) as Record<string, number | tf.Scalar>)) {
      const number = typeof value === 'number' ? value : (await value.data())[0];
      (this.record.history[key] ??= []).push(number);
    }
  }

  /** A copy of the record now (taken synchronously at checkpoint time). */
  snapshot(): HistoryRecord {
    return { epoch: [...this.record.epoch], history: Object.fromEntries(Object.entries(this.record.history).map(([k, v]) => [k, [...v]])) };
  }

  /** The record as a `tf.History`, as `fit` returns it (numbers, params of the last `fit` call). */
  toHistory(): tf.History {
    const history = new tf.History();
    const { epoch, history: values } = this.snapshot();
    history.epoch = epoch;
    history.history = values;
    if (this.lastParams !== undefined) history.setParams(this.lastParams);
    return history;
  }
}

/** A history record as checkpoint bytes (NaN and infinities kept). */
export function encodeHistoryRecord(record: HistoryRecord): Uint8Array {
  const history = Object.fromEntries(Object.entries(record.history).map(([key, values]) => [key, values.map(encodeFloat)]));
  return new TextEncoder().encode(JSON.stringify({ epoch: record.epoch, history }));
}

/**
 * A record read back from {@link encodeHistoryRecord} bytes.
 * @throws CorruptCheckpointError naming `source` and the bad field.
 */
export function decodeHistoryRecord(bytes: Uint8Array, source: string): HistoryRecord {
  try {
    const value = requireRecord(parseBoundedJson(bytes, 1 << 24, `${source} ${FIT_HISTORY_SAVEABLE_NAME}`), FIT_HISTORY_SAVEABLE_NAME);
    const epochs = value.epoch;
    if (!Array.isArray(epochs)) throw new CorruptCheckpointError(`${FIT_HISTORY_SAVEABLE_NAME}.epoch must be a list of epochs.`);
    const history = requireRecord(value.history, `${FIT_HISTORY_SAVEABLE_NAME}.history`);
    return {
      epoch: epochs.map((e, i) => requireNonNegativeInteger(e, `${FIT_HISTORY_SAVEABLE_NAME}.epoch[${i}]`)),
      history: Object.fromEntries(
        Object.entries(history).map(([key, values]: [string, JsonValue]) => {
          if (!Array.isArray(values)) throw new CorruptCheckpointError(`${FIT_HISTORY_SAVEABLE_NAME}.history.${key} must be a list.`);
          return [key, values.map((v, i) => decodeFloat(v, `${FIT_HISTORY_SAVEABLE_NAME}.history.${key}[${i}]`))];
        }),
      ),
    };
  } catch (error) {
    if (error instanceof CorruptCheckpointError && error.message.startsWith(`Checkpoint ${source}`)) throw error;
    throw new CorruptCheckpointError(`Checkpoint ${source}: ${(error as Error).message}`, { cause: error });
  }
}
