import * as tf from '@tensorflow/tfjs';
import type { JsonValue } from '../data/state';
import { decodeFloat, encodeFloat, requireNonNegativeInteger, requireRecord } from '../hooks/callback_state';
import { CorruptCheckpointError } from '../errors';
import { parseBoundedJson } from '../checkpoint/safe_json';

/** Name of the extra blob that carries the running sums of the epoch in progress. */
export const EPOCH_LOGS_SAVEABLE_NAME = 'epoch_logs';

/** The running sums tfjs's BaseLogger builds an epoch's logs from, at some batch of that epoch. */
export interface EpochLogSums {
  /** The epoch (0-based). */
  epoch: number;
  /** Batches done in it. */
  steps: number;
  /** Examples seen in it (the sum of the batch sizes). */
  seen: number;
  /** Per metric: the float32 sum of `value × batch size` over its batches. */
  totals: Record<string, number>;
}

/** A total as BaseLogger keeps it: a number before the first batch, then a float32 scalar. */
type Total = number | tf.Scalar;

/**
 * Builds every epoch's logs exactly as tfjs's BaseLogger does (the same float32 ops in the same order:
 * `total = total + value × size` per batch, then `(1 / seen) × total`), but from running sums that can be
 * saved in a checkpoint and continued after a restart. tfjs's own BaseLogger cannot be reached from a
 * callback; its values for the epoch are overwritten here, which changes nothing for an epoch run in one
 * piece and makes a resumed epoch's logs those of the uninterrupted run.
 *
 * It also tells whether tfjs ended an epoch early ({@link epochInterrupted}): a stop requested during the
 * batches ends the epoch before its validation, and that epoch is finished (and reported) by the next run.
 * Put it first in the callback list, so the sums include a batch before any checkpoint of that batch.
 */
export class EpochLogsCallback extends tf.Callback {
  private epoch = -1;
  private steps = 0;
  private seen = 0;
  private totals = new Map<string, Total>();
  private resumeFrom: EpochLogSums | undefined;
  private interrupted = false;
  private ended = false;

  /** @param batchesPerEpoch the real epoch length, when the run has one (fit's `batchesPerEpoch`). */
  constructor(private readonly batchesPerEpoch: number | undefined) {
    super();
  }

  /** Continue `sums.epoch` from these sums when it begins (a restored checkpoint's). */
  resumeWith(sums: EpochLogSums): void {
    this.resumeFrom = sums;
  }

  /** Whether the epoch tfjs last ended was cut short by a stop request (its end is not a real epoch end). */
  get epochInterrupted(): boolean {
    return this.interrupted;
  }

  /**
   * Whether the epoch tfjs last began has also ended in full (validation, epoch logs, callbacks): a checkpoint
   * taken now (the end save of a finished or early-stopped run) must resume at the next epoch, not replay it.
   */
  get epochEnded(): boolean {
    return this.ended;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.ended = false;
    this.disposeTotals();
    const resume = this.resumeFrom?.epoch === epoch ? this.resumeFrom : undefined;
    this.resumeFrom = undefined;
    this.epoch = epoch;
    this.steps = resume?.steps ?? 0;
    this.seen = resume?.seen ?? 0;
    this.totals = new Map(Object.entries(resume?.totals ?? {}).map(([key, value]) => [key, tf.scalar(value, 'float32')]));
    this.interrupted = false;
  }

  override async onBatchEnd(_batch: number, logs?: tf.Logs): Promise<void> {
    const batchLogs = (logs ?? {}) as Record<string, number | tf.Scalar>;
    const size = typeof batchLogs.size === 'number' ? batchLogs.size : 0;
    this.steps += 1;
    this.seen += size;
    for (const [key, value] of Object.entries(batchLogs)) {
      // Only metric values are tensors; 'batch' and 'size' are numbers BaseLogger sums but never reports.
      if (typeof value === 'number') continue;
      const previous = this.totals.get(key) ?? 0;
      this.totals.set(key, tf.tidy(() => tf.add(previous, tf.mul(value, size)) as tf.Scalar));
      if (typeof previous !== 'number') previous.dispose();
    }
  }

  override async onEpochEnd(_epoch: number, logs?: tf.Logs): Promise<void> {
    this.interrupted = this.model.stopTraining && !(this.batchesPerEpoch !== undefined && this.steps >= this.batchesPerEpoch);
    this.ended = !this.interrupted;
    if (logs === undefined) return;
    const metrics = (this.params.metrics ?? []) as string[];
    const epochLogs = logs as Record<string, number | tf.Scalar>;
    for (const key of metrics) {
      const total = this.totals.get(key);
      if (total === undefined) continue;
      const seen = this.seen;
      const previous = epochLogs[key];
      epochLogs[key] = tf.tidy(() => tf.keep(tf.mul(tf.div(1, seen), total) as tf.Scalar));
      if (previous !== undefined && typeof previous !== 'number') previous.dispose();
    }
  }

  /**
   * The fit call's end save (a stop request on the epoch's last batch) runs after this: keep the totals, as
   * numbers, so that checkpoint still carries them; only the backend scalars are released.
   */
  override async onTrainEnd(): Promise<void> {
    const totals = this.sums().totals;
    this.disposeTotals();
    this.totals = new Map(Object.entries(totals));
  }

  /** The sums now (read synchronously at checkpoint time, so they match the checkpoint's step). */
  sums(): EpochLogSums {
    const totals: Record<string, number> = {};
    for (const [key, total] of this.totals) totals[key] = typeof total === 'number' ? total : total.dataSync()[0];
    return { epoch: this.epoch, steps: this.steps, seen: this.seen, totals };
  }

  private disposeTotals(): void {
    for (const total of this.totals.values()) if (typeof total !== 'number') total.dispose();
    this.totals = new Map();
  }
}

/** The sums as checkpoint bytes (NaN and infinities kept). */
export function encodeEpochLogSums(sums: EpochLogSums): Uint8Array {
  const totals = Object.fromEntries(Object.entries(sums.totals).map(([key, value]) => [key, encodeFloat(value)]));
  return new TextEncoder().encode(JSON.stringify({ epoch: sums.epoch, steps: sums.steps, seen: sums.seen, totals }));
}

/**
 * Sums read back from {@link encodeEpochLogSums} bytes.
 * @throws CorruptCheckpointError naming `source` and the bad field.
 */
export function decodeEpochLogSums(bytes: Uint8Array, source: string): EpochLogSums {
  try {
    const value = requireRecord(parseBoundedJson(bytes, 1 << 16, `${source} ${EPOCH_LOGS_SAVEABLE_NAME}`), EPOCH_LOGS_SAVEABLE_NAME);
    const totals = requireRecord(value.totals, `${EPOCH_LOGS_SAVEABLE_NAME}.totals`);
    const epoch = value.epoch === -1 ? -1 : requireNonNegativeInteger(value.epoch, `${EPOCH_LOGS_SAVEABLE_NAME}.epoch`);
    return {
      epoch,
      steps: requireNonNegativeInteger(value.steps, `${EPOCH_LOGS_SAVEABLE_NAME}.steps`),
      seen: requireNonNegativeInteger(value.seen, `${EPOCH_LOGS_SAVEABLE_NAME}.seen`),
      totals: Object.fromEntries(
        Object.entries(totals).map(([key, v]: [string, JsonValue]) => [key, decodeFloat(v, `${EPOCH_LOGS_SAVEABLE_NAME}.totals.${key}`)]),
      ),
    };
  } catch (error) {
    if (error instanceof CorruptCheckpointError) throw error;
    throw new CorruptCheckpointError(`Checkpoint ${source}: ${(error as Error).message}`, { cause: error });
  }
}
