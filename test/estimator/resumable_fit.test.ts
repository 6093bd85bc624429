import { EventEmitter } from 'events';
import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';
import { resumableFit, type ResumableFitResult } from '../../src/estimator/resumable_fit';
import { InvalidArgumentError } from '../../src/errors';
import { PipelineMismatchError } from '../../src/data/errors';
import { type SessionRunContext, SessionRunHook } from '../../src/hooks/session_run_hook';
import { StopAtStepHook } from '../../src/hooks/stop_at_step_hook';
import type { SignalSource } from '../../src/hooks/preemption_hook';
import { RecordingLogger, tempDir, weightBytes } from '../checkpoint/helpers';
import { useTestBackend } from '../helpers/test_backend';

beforeAll(async () => {
  await useTestBackend();
});

function model(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [3], units: 6, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }));
  m.add(tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }));
  m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  return m;
}

/** 24 examples, shuffled per epoch, batches of 4: 6 steps per epoch. */
function dataset(shuffleSeed = 'fit-seed'): data.CheckpointableDataset<tf.TensorContainer> {
  return data
    .range(0, 24)
    .map((i) => ({ xs: tf.tensor1d([Math.sin(i), Math.cos(i), i / 24]), ys: tf.tensor1d([Math.sin(2 * i), i % 2]) }))
    .shuffle(8, shuffleSeed)
    .batch(4);
}

const quiet = { logger: new RecordingLogger(), preemption: false as const };

async function uninterrupted(
  fitArgs: tf.ModelFitDatasetArgs<tf.TensorContainer>,
  makeDataset: () => data.CheckpointableDataset<tf.TensorContainer>,
): Promise<number[][]> {
  const m = model();
  const result = await resumableFit(m, makeDataset(), fitArgs, { modelDir: tempDir('fit-ref'), saveSteps: 5, ...quiet });
  expect(result.completed).toBe(true);
  return weightBytes(m);
}

/** Runs until global step `cut`, then resumes in new model and dataset objects and finishes. */
async function interruptedAt(
  cut: number,
  fitArgs: tf.ModelFitDatasetArgs<tf.TensorContainer>,
  makeDataset: () => data.CheckpointableDataset<tf.TensorContainer>,
): Promise<{ weights: number[][]; first: ResumableFitResult; second: ResumableFitResult }> {
  const modelDir = tempDir('fit-cut');
  const first = await resumableFit(model(), makeDataset(), fitArgs, {
    modelDir,
    saveSteps: 5,
    hooks: [new StopAtStepHook({ lastStep: cut })],
    ...quiet,
  });
  const resumedModel = model();
  const second = await resumableFit(resumedModel, makeDataset(), fitArgs, { modelDir, saveSteps: 5, ...quiet });
  return { weights: weightBytes(resumedModel), first, second };
}

describe('resumableFit resumes bit for bit', () => {
  const fitArgs = { epochs: 3, verbose: 0 };

  it.each([1, 5, 6, 7, 12, 17])('without batchesPerEpoch, cut at global step %i', async (cut) => {
    const reference = await uninterrupted(fitArgs, () => dataset());
    const { weights, first, second } = await interruptedAt(cut, fitArgs, () => dataset());
    expect([first.completed, first.globalStep, first.restoredFrom]).toEqual([false, cut, null]);
    expect(second.restoredFrom).toEqual({
      path: `model.ckpt-${cut}`,
      globalStep: cut,
      position: { epoch: Math.floor((cut - 1) / 6), stepInEpoch: ((cut - 1) % 6) + 1 },
    });
    expect([second.completed, second.globalStep]).toEqual([true, 18]);
    expect(weights).toEqual(reference);
  });

  it.each([3, 5, 7, 10, 14])('with batchesPerEpoch 5 over a repeated dataset, cut at global step %i', async (cut) => {
    const args = { epochs: 3, batchesPerEpoch: 5, verbose: 0 };
    const repeated = () => dataset().repeat();
    const reference = await uninterrupted(args, repeated);
    const { weights, second } = await interruptedAt(cut, args, repeated);
    // A stop on an epoch's last batch (5, 10) saves after that epoch's end: the resume starts the next epoch.
    const position = cut % 5 === 0 ? { epoch: cut / 5, stepInEpoch: 0 } : { epoch: Math.floor(cut / 5), stepInEpoch: cut % 5 };
    expect(second.restoredFrom?.position).toEqual(position);
    expect([second.completed, second.globalStep]).toEqual([true, 15]);
    expect(weights).toEqual(reference);
  });

  it('a finished run resumed again trains nothing more', async () => {
    const modelDir = tempDir('fit-done');
    const m = model();
    await resumableFit(m, dataset(), fitArgs, { modelDir, saveSteps: 5, ...quiet });
    const done = weightBytes(m);
    const again = model();
    const result = await resumableFit(again, dataset(), fitArgs, { modelDir, saveSteps: 5, ...quiet });
    expect([result.globalStep, result.completed, result.restoredFrom?.globalStep]).toEqual([18, true, 18]);
    expect(weightBytes(again)).toEqual(done);
  });

  it('SIGTERM: finishes the current batch, saves, reports the signal; the resumed run equals the uninterrupted one', async () => {
    const reference = await uninterrupted(fitArgs, () => dataset());
    const signals = new EventEmitter();
    /** Delivers SIGTERM while step 8 runs, as a scheduler would. */
    class SendSigtermAt extends SessionRunHook {
      override afterRun(ctx: SessionRunContext): void {
        if (ctx.session.globalStep === 8) signals.emit('SIGTERM', 'SIGTERM');
      }
    }
    const modelDir = tempDir('fit-sigterm');
    const exits: number[] = [];
    const first = await resumableFit(model(), dataset(), fitArgs, {
      modelDir,
      saveSteps: 5,
      hooks: [new SendSigtermAt()],
      preemption: { process: signals as unknown as SignalSource, log: () => undefined, exit: (code) => exits.push(code) },
      logger: new RecordingLogger(),
    });
    // The process would have ended with SIGTERM's status once the final save was durable.
    expect(exits).toEqual([143]);
    expect([first.preemptedBy, first.completed, first.globalStep]).toEqual(['SIGTERM', false, 8]);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    const resumed = model();
    const second = await resumableFit(resumed, dataset(), fitArgs, { modelDir, saveSteps: 5, ...quiet });
    expect(second.restoredFrom?.globalStep).toBe(8);
    expect(weightBytes(resumed)).toEqual(reference);
  });
});

describe('resumableFit refuses what it cannot resume', () => {
  it('a tf.data dataset', async () => {
    const plain = tf.data.array([{ xs: [1, 2, 3], ys: [0, 1] }]).batch(1);
    await expect(
      resumableFit(model(), plain as unknown as data.CheckpointableDataset<tf.TensorContainer>, { epochs: 1 }, { modelDir: tempDir('x'), saveSteps: 1 }),
    ).rejects.toThrow(
      new InvalidArgumentError(
        'resumableFit needs a dataset built with tfjs-resumable data.* (a CheckpointableDataset), so its position ' +
          'can be saved; tf.data datasets restart from the beginning on resume.',
      ),
    );
  });

  it('a bad epoch count', async () => {
    await expect(resumableFit(model(), dataset(), { epochs: 0 }, { modelDir: tempDir('x'), saveSteps: 1 })).rejects.toThrow(
      new InvalidArgumentError('resumableFit: fitArgs.epochs must be a positive integer, got 0.'),
    );
  });

  it('a different pipeline on resume, before training anything', async () => {
    const modelDir = tempDir('fit-mismatch');
    await resumableFit(model(), dataset(), { epochs: 1, verbose: 0 }, { modelDir, saveSteps: 2, hooks: [new StopAtStepHook({ lastStep: 3 })], ...quiet });
    const m = model();
    const before = weightBytes(m);
    await expect(resumableFit(m, dataset('other-seed'), { epochs: 1, verbose: 0 }, { modelDir, saveSteps: 2, ...quiet })).rejects.toThrow(
      PipelineMismatchError,
    );
    // The model was restored from the checkpoint (weights changed) but not trained.
    expect(weightBytes(m)).not.toEqual(before);
  });
});
