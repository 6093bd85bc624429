import * as fs from 'fs';
import { PassThrough } from 'stream';
import * as tf from '@tensorflow/tfjs';
import { resumableFit, StopAtStepHook, type types } from '../../src';
import { InvalidArgumentError } from '../../src/errors';
import { RecordingLogger, tempDir, weightBytes } from '../checkpoint/helpers';
import { useTestBackend } from '../helpers/test_backend';

// resumableFit(model, xs, ys, fitArgs, options): model.fit's semantics on tensors, resumable at any batch.

beforeAll(async () => {
  await useTestBackend();
});

/** A 3-class classifier with seeded initializers: identical in every call. */
function model(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [3], units: 6, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }));
  m.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** 30 rows: with batchSize 8, 4 batches (the last of 6 rows); with validationSplit 0.2, 24 + 6 rows, 3 batches. */
const ROWS = 30;
let xs: tf.Tensor2D;
let ys: tf.Tensor2D;
beforeAll(() => {
  xs = tf.tensor2d(Array.from({ length: ROWS * 3 }, (_, k) => Math.sin(k * 1.3)), [ROWS, 3]);
  ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: ROWS }, (_, i) => (i * 7) % 3), 'int32'), 3).toFloat() as tf.Tensor2D);
});

const quiet = { preemption: false as const, logger: new RecordingLogger() };

/** What a History holds, for exact comparison. */
function historyOf(history: tf.History): { epoch: number[]; history: Record<string, number[]> } {
  return { epoch: history.epoch, history: history.history as Record<string, number[]> };
}

describe('resumableFit(model, xs, ys) trains as model.fit does', () => {
  const variants: [string, () => tf.ModelFitArgs][] = [
    ['batchSize and epochs', () => ({ epochs: 3, batchSize: 8 })],
    ['validationSplit (the last rows, before shuffling)', () => ({ epochs: 3, batchSize: 8, validationSplit: 0.2 })],
    ['validationData', () => ({ epochs: 3, batchSize: 8, validationData: [xs.slice(0, 7), ys.slice(0, 7)] })],
    ['classWeight', () => ({ epochs: 3, batchSize: 8, classWeight: { 0: 1, 1: 3, 2: 0.5 } })],
    ['initialEpoch', () => ({ epochs: 4, batchSize: 8, initialEpoch: 2 })],
    ['default batchSize 32 and epochs 1', () => ({})],
  ];

  it.each(variants)('shuffle: false, %s: the same weights bit for bit and the same History as model.fit', async (_name, makeArgs) => {
    const args = { ...makeArgs(), shuffle: false, verbose: 0 as const };
    const reference = model();
    const expected = await reference.fit(xs, ys, args);
    const m = model();
    const result = await resumableFit(m, xs, ys, args, { modelDir: tempDir('tensors-parity'), ...quiet });
    expect(result.completed).toBe(true);
    expect(weightBytes(m)).toEqual(weightBytes(reference));
    expect(historyOf(result.history)).toEqual(historyOf(expected));
  });

  it('shuffle (default true) draws a new permutation each epoch from options.seed: reproducible, and seed-dependent', async () => {
    const args = { epochs: 3, batchSize: 8, verbose: 0 as const };
    const run = async (seed?: number | string): Promise<number[][]> => {
      const m = model();
      await resumableFit(m, xs, ys, args, { modelDir: tempDir('tensors-shuffle'), ...(seed !== undefined ? { seed } : {}), ...quiet });
      return weightBytes(m);
    };
    const unshuffled = model();
    await unshuffled.fit(xs, ys, { ...args, shuffle: false });
    const [seed0, seed0Again, defaultSeed, seed5] = [await run(0), await run(0), await run(), await run(5)];
    expect(seed0Again).toEqual(seed0);
    // The documented default seed is 0.
    expect(defaultSeed).toEqual(seed0);
    expect(seed5).not.toEqual(seed0);
    expect(seed0).not.toEqual(weightBytes(unshuffled));
  });
});

/** Records every onEpochEnd a plain `{ onEpochEnd }` object receives, values resolved. */
function epochEndRecorder(): { calls: [number, Record<string, number>][]; callback: tf.CustomCallbackArgs } {
  const calls: [number, Record<string, number>][] = [];
  return {
    calls,
    callback: {
      onEpochEnd: async (epoch, logs) => {
        calls.push([epoch, { ...(logs as Record<string, number>) }]);
      },
    },
  };
}

describe('resumableFit(model, xs, ys) stopped at any batch and resumed equals the uninterrupted run', () => {
  // 3 epochs of 3 batches, shuffled, validated on the last 6 rows: every cut, including each epoch's last batch.
  const fitArgs = (callbacks: tf.CustomCallbackArgs): tf.ModelFitArgs => ({
    epochs: 3,
    batchSize: 8,
    validationSplit: 0.2,
    callbacks,
    verbose: 0,
  });
  let reference: { weights: number[][]; result: types.ResumableFitResult; calls: [number, Record<string, number>][] };

  beforeAll(async () => {
    const recorder = epochEndRecorder();
    const m = model();
    const result = await resumableFit(m, xs, ys, fitArgs(recorder.callback), { modelDir: tempDir('tensors-ref'), saveSteps: 2, seed: 'cut', ...quiet });
    reference = { weights: weightBytes(m), result, calls: recorder.calls };
  });

  it('the uninterrupted run reports every epoch with its loss, accuracy and validation values', () => {
    expect(reference.calls.map(([epoch, logs]) => [epoch, Object.keys(logs).sort()])).toEqual(
      [0, 1, 2].map((epoch) => [epoch, ['acc', 'loss', 'val_acc', 'val_loss']]),
    );
    expect(historyOf(reference.result.history)).toEqual({
      epoch: [0, 1, 2],
      history: Object.fromEntries(['val_loss', 'val_acc', 'loss', 'acc'].map((key) => [key, reference.calls.map(([, logs]) => logs[key])])),
    });
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('cut after global step %i', async (cut) => {
    const modelDir = tempDir('tensors-cut');
    const first = epochEndRecorder();
    const stopped = await resumableFit(model(), xs, ys, fitArgs(first.callback), {
      modelDir,
      saveSteps: 2,
      seed: 'cut',
      hooks: [new StopAtStepHook({ lastStep: cut })],
      ...quiet,
    });
    expect([stopped.completed, stopped.globalStep]).toEqual([false, cut]);
    const second = epochEndRecorder();
    const resumedModel = model();
    const resumed = await resumableFit(resumedModel, xs, ys, fitArgs(second.callback), {
      modelDir,
      saveSteps: 2,
      seed: 'cut',
      hooks: [new StopAtStepHook({ lastStep: 100 })],
      ...quiet,
    });
    // A stop on an epoch's last batch ends that epoch before its validation: neither run reports it half
    // done (no onEpochEnd without val_loss), and the resumed run reports it once, not as an empty epoch.
    expect(first.calls).toEqual(reference.calls.slice(0, Math.max(0, Math.ceil(cut / 3) - 1)));
    expect(second.calls).toEqual(reference.calls.slice(first.calls.length));
    expect(resumed.restoredFrom).toEqual({
      path: `model.ckpt-${cut}`,
      globalStep: cut,
      position: { epoch: Math.floor((cut - 1) / 3), stepInEpoch: ((cut - 1) % 3) + 1 },
    });
    expect([resumed.completed, resumed.globalStep]).toEqual([true, 9]);
    expect(weightBytes(resumedModel)).toEqual(reference.weights);
    expect(historyOf(resumed.history)).toEqual(historyOf(reference.result.history));
  });
  it('a finished run started again fires no epoch end and returns the same History (no epoch replayed)', async () => {
    const modelDir = tempDir('tensors-again');
    // saveSteps 3 saves steps 1, 4, 7: the final checkpoint is the end save, taken after the last epoch's end.
    const done = await resumableFit(model(), xs, ys, fitArgs({}), { modelDir, saveSteps: 3, seed: 'cut', ...quiet });
    const again = epochEndRecorder();
    const m = model();
    const result = await resumableFit(m, xs, ys, fitArgs(again.callback), { modelDir, saveSteps: 3, seed: 'cut', ...quiet });
    expect(again.calls).toEqual([]);
    expect(result.restoredFrom).toEqual({ path: 'model.ckpt-9', globalStep: 9, position: { epoch: 3, stepInEpoch: 0 } });
    expect([result.completed, result.globalStep]).toEqual([true, 9]);
    expect(historyOf(result.history)).toEqual(historyOf(done.history));
    expect(weightBytes(m)).toEqual(reference.weights);
  });
  it("a run whose last checkpoint is its last batch's (saved before that epoch's end) replays only that end", async () => {
    const modelDir = tempDir('tensors-again-cadence');
    // saveSteps 2 saves step 9 on its cadence, before epoch 3's validation; the end save finds step 9 saved.
    await resumableFit(model(), xs, ys, fitArgs({}), { modelDir, saveSteps: 2, seed: 'cut', ...quiet });
    const again = epochEndRecorder();
    const m = model();
    const result = await resumableFit(m, xs, ys, fitArgs(again.callback), { modelDir, saveSteps: 2, seed: 'cut', ...quiet });
    expect(result.restoredFrom?.position).toEqual({ epoch: 2, stepInEpoch: 3 });
    expect(again.calls).toEqual(reference.calls.slice(2));
    expect(historyOf(result.history)).toEqual(historyOf(reference.result.history));
    expect(weightBytes(m)).toEqual(reference.weights);
  });
});

describe('tfjs idioms in resumableFit(model, xs, ys)', () => {
  it('callbacks as an array of plain objects (and tfjs callbacks mixed in) see what model.fit shows them', async () => {
    const args = { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 as const };
    const expected = epochEndRecorder();
    const batches: number[] = [];
    await model().fit(xs, ys, { ...args, callbacks: [expected.callback] });
    const got = epochEndRecorder();
    const early = tf.callbacks.earlyStopping({ monitor: 'loss', patience: 5 });
    await resumableFit(model(), xs, ys, { ...args, callbacks: [got.callback, { onBatchEnd: async (batch: number) => void batches.push(batch) }, early] }, {
      modelDir: tempDir('tensors-plain'),
      ...quiet,
    });
    expect(got.calls).toEqual(expected.calls);
    expect(batches).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it('no save cadence: one checkpoint per epoch (every ceil(rows / batchSize) steps) and at the end', async () => {
    const modelDir = tempDir('tensors-cadence');
    const result = await resumableFit(model(), xs, ys, { epochs: 3, batchSize: 8, verbose: 0 }, { modelDir, keepCheckpointMax: 10, ...quiet });
    expect(result.globalStep).toBe(12);
    // The step timer fires at the first step (as TF's), then every 4 steps; a save due while the previous
    // one is still being written is skipped (a loaded disk), the end save never is.
    const steps = fs.readdirSync(modelDir).filter((name) => name.startsWith('model.ckpt-')).map((name) => Number(name.slice(11)));
    expect(steps.filter((step) => ![1, 5, 9, 12].includes(step))).toEqual([]);
    expect([steps.includes(1), steps.includes(12)]).toEqual([true, true]);
  });

  it('verbose 2 prints the restore line, then one line per epoch, starting with the resumed one', async () => {
    const modelDir = tempDir('tensors-verbose');
    const args = { epochs: 3, batchSize: 8, validationSplit: 0.2, verbose: 2 as const };
    const firstLines: string[] = [];
    await resumableFit(model(), xs, ys, args, { modelDir, saveSteps: 1, hooks: [new StopAtStepHook({ lastStep: 4 })], print: (l) => firstLines.push(l), ...quiet });
    const lines: string[] = [];
    const result = await resumableFit(model(), xs, ys, args, { modelDir, saveSteps: 1, hooks: [new StopAtStepHook({ lastStep: 100 })], print: (l) => lines.push(l), ...quiet });
    const values = result.history.history as Record<string, number[]>;
    const line = (epoch: number): string =>
      `Epoch ${epoch + 1}/3 - ` + ['val_loss', 'val_acc', 'loss', 'acc'].map((key) => `${key}=${values[key][epoch].toFixed(4)}`).join(' ');
    expect(firstLines).toEqual([line(0)]);
    expect(lines).toEqual([`Restored model.ckpt-4 (epoch 2, batch 1) from ${modelDir}`, line(1), line(2)]);
  });

  it('verbose 1 draws a progress bar with ETA that starts at the batch the resumed epoch resumed from', async () => {
    const modelDir = tempDir('tensors-bar');
    const args = { epochs: 2, batchSize: 8, verbose: 1 as const };
    await resumableFit(model(), xs, ys, { ...args, verbose: 0 }, { modelDir, saveSteps: 1, hooks: [new StopAtStepHook({ lastStep: 6 })], ...quiet });
    // cli-progress draws only on a TTY: a stream that says it is one, recording what is drawn.
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let drawn = '';
    stream.on('data', (chunk: Buffer) => void (drawn += chunk.toString('utf8')));
    const lines: string[] = [];
    const result = await resumableFit(model(), xs, ys, args, {
      modelDir,
      saveSteps: 1,
      hooks: [new StopAtStepHook({ lastStep: 100 })],
      print: (line) => lines.push(line),
      progressStream: stream,
      ...quiet,
    });
    const loss = (result.history.history.loss as number[])[1];
    expect(lines).toEqual([`Restored model.ckpt-6 (epoch 2, batch 2) from ${modelDir}`, `Epoch 2/2 - loss=${loss.toFixed(4)} acc=${(result.history.history.acc as number[])[1].toFixed(4)}`]);
    const frames = [...drawn.matchAll(/Epoch (\d)\/2 \[[█░]{40}\] (\d)\/4 batches \| ETA \d+s/g)].map((m) => `${m[1]}:${m[2]}`);
    // The first frame is the resumed position (2 of 4 done), the last the epoch's end.
    expect([frames[0], frames[frames.length - 1]]).toEqual(['2:2', '2:4']);
  });

  it('verbose 0 prints nothing', async () => {
    const lines: string[] = [];
    await resumableFit(model(), xs, ys, { epochs: 1, batchSize: 8, verbose: 0 }, { modelDir: tempDir('tensors-quiet'), print: (l) => lines.push(l), ...quiet });
    expect(lines).toEqual([]);
  });
});

describe('resumableFit(model, xs, ys) refuses what model.fit would refuse or it cannot honour', () => {
  const refused: [string, () => [tf.Tensor, tf.Tensor, tf.ModelFitArgs], string][] = [
    ['sampleWeight', () => [xs, ys, { sampleWeight: tf.ones([ROWS]) }], "resumableFit: fitArgs.sampleWeight is not supported: tfjs's own fit does not support sampleWeight either ('sample weight is not supported yet'); use classWeight."],
    ['stepsPerEpoch', () => [xs, ys, { stepsPerEpoch: 2 }], 'resumableFit: fitArgs.stepsPerEpoch is not supported: tensor inputs are split into batches of batchSize; use batchSize.'],
    ['validationSteps', () => [xs, ys, { validationSteps: 2 }], 'resumableFit: fitArgs.validationSteps is not supported: validation covers the whole validation data, as fit does without stepsPerEpoch.'],
    ['batchSize 0', () => [xs, ys, { batchSize: 0 }], 'resumableFit: fitArgs.batchSize must be a positive integer, got 0.'],
    ['validationSplit 1', () => [xs, ys, { validationSplit: 1 }], 'resumableFit: fitArgs.validationSplit must be in [0, 1), got 1.'],
    ['validationSplit leaving no rows', () => [xs, ys, { validationSplit: 0.99 }], 'resumableFit: no training rows left (30 rows, validationSplit 0.99).'],
    ["shuffle 'batch'", () => [xs, ys, { shuffle: 'batch' as unknown as boolean }], 'resumableFit: fitArgs.shuffle must be true or false, got "batch" (tfjs\'s fit does not implement \'batch\' shuffling either).'],
    ['validationData with sample weights', () => [xs, ys, { validationData: [xs, ys, tf.ones([ROWS])] }], "resumableFit: fitArgs.validationData must be [xs, ys] (2 tensors), got 3 items; validation sample weights are not supported (as in tfjs's fit)."],
    ['rows that differ', () => [xs, ys.slice(1), {}], 'resumableFit: xs and ys must have the same number of rows, got shapes [30,3] and [29,3].'],
    ['several inputs', () => [[xs, xs] as unknown as tf.Tensor, ys, {}], 'resumableFit needs a dataset built with tfjs-resumable data.* (a CheckpointableDataset), so its position can be saved; tf.data datasets restart from the beginning on resume.'],
    ['epochs 0', () => [xs, ys, { epochs: 0 }], 'resumableFit: fitArgs.epochs must be a positive integer, got 0.'],
  ];

  it.each(refused)('%s', async (_name, makeCall, message) => {
    const [x, y, args] = makeCall();
    await expect(resumableFit(model(), x, y, args, { modelDir: tempDir('tensors-refused'), ...quiet })).rejects.toThrow(new InvalidArgumentError(message));
  });

  it('options missing', async () => {
    await expect(resumableFit(model(), xs, ys, {}, undefined as never)).rejects.toThrow(
      new InvalidArgumentError('resumableFit: the last argument must be the options, at least { modelDir }.'),
    );
  });
});
