import * as tf from '@tensorflow/tfjs';
import type { BaseCallback } from './base_callback';
import type { EpochLogsCallback } from './epoch_logs';

type CallbackParams = Parameters<tf.History['setParams']>[0];

/**
 * Shows the user's callbacks one run, however many `fitDataset` calls resumableFit makes of it and however
 * often it was restarted: `onTrainBegin` once at the first call (then `afterTrainBegin`, where saved callback
 * states are put back, after the callbacks reset themselves), `onTrainEnd` once via {@link finish}, and no
 * `onEpochEnd` for an epoch a stop request cut short (it has no validation logs and only part of its
 * batches; the run that finishes that epoch reports it).
 */
export class CallbackGate extends tf.Callback {
  private started = false;

  constructor(
    private readonly inner: readonly BaseCallback[],
    private readonly epochLogs: EpochLogsCallback,
    private readonly afterTrainBegin: () => void,
  ) {
    super();
  }

  override setParams(params: CallbackParams): void {
    super.setParams(params);
    for (const callback of this.inner) callback.setParams(params);
  }

  override setModel(model: tf.LayersModel): void {
    super.setModel(model);
    for (const callback of this.inner) callback.setModel(model);
  }

  override async onTrainBegin(logs?: tf.Logs): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const callback of this.inner) await callback.onTrainBegin(logs);
    this.afterTrainBegin();
  }

  override async onEpochBegin(epoch: number, logs?: tf.Logs): Promise<void> {
    for (const callback of this.inner) await callback.onEpochBegin(epoch, logs);
  }

  override async onBatchBegin(batch: number, logs?: tf.Logs): Promise<void> {
    for (const callback of this.inner) await callback.onBatchBegin(batch, logs);
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    for (const callback of this.inner) await callback.onBatchEnd(batch, logs);
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    if (this.epochLogs.epochInterrupted) return;
    for (const callback of this.inner) await callback.onEpochEnd(epoch, logs);
  }

  /** tfjs's end of one `fitDataset` call is not the end of the run: {@link finish} ends it. */
  override async onTrainEnd(): Promise<void> {}

  /** The run is over (finished, stopped or preempted): `onTrainEnd` for the callbacks that began. */
  async finish(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const callback of this.inner) await callback.onTrainEnd();
  }
}
