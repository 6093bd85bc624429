import * as tf from '@tensorflow/tfjs';
import { Presets, SingleBar } from 'cli-progress';

/** Where an epoch starts: a resumed epoch starts at the batch its checkpoint was taken after. */
export interface ProgressStart {
  /** The epoch (0-based) that resumes part-way. */
  epoch: number;
  /** Batches of it already done. */
  step: number;
}

/** Options of {@link ProgressBarCallback}. */
export interface ProgressBarOptions {
  /** Total epochs of the run (fit's `epochs`). */
  epochs: number;
  /** Batches per epoch when known (fit's `batchesPerEpoch`, or the dataset's size); else only a count is shown. */
  stepsPerEpoch: number | undefined;
  /** The resumed epoch and its first batch, when the run was restored mid-epoch. */
  start: ProgressStart | undefined;
  /** Where the epoch lines go. */
  print: (line: string) => void;
  /** Draw the bar (`verbose: 1`), or print only the epoch lines (`verbose: 2`). */
  bar: boolean;
  /** Where the bar is drawn (a TTY; cli-progress draws nothing on a pipe). Default `process.stdout`. */
  stream?: NodeJS.WritableStream;
}

/**
 * `verbose` for resumableFit: with `bar`, a `cli-progress` bar per epoch with batch count and ETA, starting at the
 * batch a resumed epoch resumed from, and one line per finished epoch with its logs
 * (`Epoch 2/3 - loss=0.1234 val_loss=0.2345`). tfjs's own progress bar exists only in tfjs-node.
 */
export class ProgressBarCallback extends tf.Callback {
  private bar: SingleBar | undefined;
  private step = 0;
  private start: ProgressStart | undefined;

  constructor(private readonly options: ProgressBarOptions) {
    super();
    this.start = options.start;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.stopBar();
    const start = this.start?.epoch === epoch ? this.start : undefined;
    this.start = undefined;
    this.step = start?.step ?? 0;
    if (!this.options.bar) return;
    const total = this.options.stepsPerEpoch;
    const label = `Epoch ${epoch + 1}/${this.options.epochs}`;
    this.bar = new SingleBar(
      {
        format: total !== undefined ? `${label} [{bar}] {value}/{total} batches | ETA {eta_formatted} | {metrics}` : `${label} {value} batches | {metrics}`,
        stream: this.options.stream ?? process.stdout,
        hideCursor: false,
        clearOnComplete: true,
        etaBuffer: 20,
      },
      Presets.shades_classic,
    );
    this.bar.start(total ?? 0, this.step, { metrics: '' });
  }

  override async onBatchEnd(_batch: number, logs?: tf.Logs): Promise<void> {
    this.step += 1;
    const loss = (logs as Record<string, number | tf.Scalar> | undefined)?.loss;
    // Reading the loss would wait for the backend every batch; show it only when it is a number already.
    this.bar?.update(this.step, { metrics: typeof loss === 'number' ? `loss=${loss.toFixed(4)}` : '' });
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    this.stopBar();
    const parts: string[] = [];
    for (const [key, value] of Object.entries((logs ?? {}) as Record<string, number | tf.Scalar>)) {
      const number = typeof value === 'number' ? value : (await value.data())[0];
      parts.push(`${key}=${number.toFixed(4)}`);
    }
    this.options.print(`Epoch ${epoch + 1}/${this.options.epochs} - ${parts.join(' ')}`);
  }

  override async onTrainEnd(): Promise<void> {
    this.stopBar();
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
