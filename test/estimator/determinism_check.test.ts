import * as tf from '@tensorflow/tfjs';
import { checkDeterminism, data, Estimator, resumableFit, RunConfig } from '../../src';
import { RecordingLogger, tempDir } from '../checkpoint/helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const seeded = (seed: number) => tf.initializers.glorotUniform({ seed });

/** A model whose every random draw is seeded: the baseline each test adds one unseeded piece to. */
function seededModel(extra: (m: tf.Sequential) => void = () => {}): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ name: 'hidden', inputShape: [3], units: 4, activation: 'tanh', kernelInitializer: seeded(1) }));
  m.add(tf.layers.dropout({ name: 'seeded_drop', rate: 0.25, seed: 5 }));
  extra(m);
  m.add(tf.layers.dense({ name: 'out', units: 2, kernelInitializer: seeded(2) }));
  m.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  return m;
}

/** 8 examples, shuffled without a seed (a data.* shuffle derives a fixed one), batches of 4. */
function dataset(): data.CheckpointableDataset<tf.TensorContainer> {
  return data
    .range(0, 8)
    .map((i) => ({ xs: tf.tensor1d([i / 8, Math.sin(i), 1]), ys: tf.tensor1d([i % 2, 1 - (i % 2)]) }))
    .shuffle(4)
    .batch(4);
}

const fresh = { freshStart: true };

describe('checkDeterminism: one exact warning per thing that makes a rerun or resume differ', () => {
  it('a fully seeded model and a data.* input without a shuffle seed give no warning', () => {
    expect(checkDeterminism(seededModel(), [dataset()], fresh)).toEqual([]);
  });

  it('an unseeded data.* shuffle is reproducible, so it needs no warning', async () => {
    const order = async () => (await data.range(0, 12).shuffle(5).toArray()) as number[];
    const first = await order();
    expect(await order()).toEqual(first);
    expect([...first].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(first).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('Dropout and SpatialDropout1D without a seed', () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ name: 'd', inputShape: [3], units: 4, kernelInitializer: seeded(1) }));
    m.add(tf.layers.dropout({ name: 'drop', rate: 0.5 }));
    m.add(tf.layers.reshape({ name: 'r', targetShape: [4, 1] }));
    m.add(tf.layers.spatialDropout1d({ name: 'sdrop', rate: 0.2 }));
    m.add(tf.layers.dropout({ name: 'no_op_drop', rate: 0 }));
    expect(checkDeterminism(m, [], fresh)).toEqual([
      "Layer 'drop' (Dropout, rate 0.5) has no seed: its dropout masks come from Math.random, so a rerun or a resume " +
        'differs. Give it one: tf.layers.dropout({ rate: 0.5, seed: 1 }) (tfjs then draws the same mask at every step).',
      "Layer 'sdrop' (SpatialDropout1D, rate 0.2) has no seed: its dropout masks come from Math.random, so a rerun or a " +
        'resume differs. Give it one: tf.layers.spatialDropout1d({ rate: 0.2, seed: 1 }) (tfjs then draws the same mask at every step).',
    ]);
  });

  it('a seeded Dropout draws the same mask every call, as its warning says', () => {
    const layer = tf.layers.dropout({ rate: 0.5, seed: 3 });
    const mask = () => Array.from((layer.apply(tf.ones([64]), { training: true }) as tf.Tensor).dataSync());
    const first = mask();
    expect(mask()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([0, 2]));
  });

  it.each([
    ['GaussianNoise', () => tf.layers.gaussianNoise({ name: 'noise', stddev: 0.1 })],
    ['GaussianDropout', () => tf.layers.gaussianDropout({ name: 'noise', rate: 0.1 })],
    ['AlphaDropout', () => tf.layers.alphaDropout({ name: 'noise', rate: 0.1 })],
  ])('%s, which tfjs-layers cannot seed', (className, layer) => {
    expect(checkDeterminism(seededModel((m) => m.add(layer())), [], fresh)).toEqual([
      `Layer 'noise' (${className}) draws its noise from Math.random at every training step and tfjs-layers ` +
        `${tf.version_layers} has no seed for it, so a rerun or a resume differs. Remove it for bit-exact runs.`,
    ]);
  });

  it('recurrent dropout, also inside a bidirectional wrapper', () => {
    const m = tf.sequential();
    const cellInit = { kernelInitializer: seeded(3), recurrentInitializer: tf.initializers.orthogonal({ seed: 4 }) };
    m.add(tf.layers.lstm({ name: 'lstm', inputShape: [5, 2], units: 3, dropout: 0.2, returnSequences: true, ...cellInit }));
    m.add(tf.layers.bidirectional({ layer: tf.layers.gru({ name: 'gru', units: 2, recurrentDropout: 0.3, ...cellInit }) as tf.RNN }));
    expect(checkDeterminism(m, [], fresh)).toEqual([
      `Layer 'lstm' (LSTM, dropout 0.2) draws its dropout masks from Math.random and tfjs-layers ${tf.version_layers} ` +
        'has no seed for them, so a rerun or a resume differs. Set dropout to 0 for bit-exact runs.',
      `Layer 'gru' (GRU, recurrentDropout 0.3) draws its dropout masks from Math.random and tfjs-layers ${tf.version_layers} ` +
        'has no seed for them, so a rerun or a resume differs. Set recurrentDropout to 0 for bit-exact runs.',
    ]);
  });

  it('unseeded initializers (and seed 0 of a normal one), on a fresh start only', () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ name: 'a', inputShape: [3], units: 4 }));
    m.add(tf.layers.dense({ name: 'b', units: 4, kernelInitializer: tf.initializers.heNormal({ seed: 0 }) }));
    m.add(tf.layers.dense({ name: 'c', units: 4, kernelInitializer: tf.initializers.randomUniform({ seed: 0 }) }));
    m.add(tf.layers.embedding({ name: 'e', inputDim: 4, outputDim: 2, embeddingsInitializer: 'randomNormal' }));
    expect(checkDeterminism(m, [], fresh)).toEqual([
      "Unseeded initializers, so a fresh start draws different initial weights on every run: 'a'.kernelInitializer " +
        "(VarianceScaling), 'b'.kernelInitializer (VarianceScaling, seed 0 counts as none), 'e'.embeddingsInitializer " +
        '(RandomNormal). Give each a nonzero seed, e.g. kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }).',
    ]);
    expect(checkDeterminism(m, [], { freshStart: false })).toEqual([]);
  });

  it('seed 0 of a normal initializer really is no seed in tfjs (so the warning is not noise)', () => {
    const draw = () => Array.from(tf.initializers.heNormal({ seed: 0 }).apply([50]).dataSync());
    expect(draw()).not.toEqual(draw());
    const uniform = () => Array.from(tf.initializers.heUniform({ seed: 0 }).apply([50]).dataSync());
    expect(uniform()).toEqual(uniform());
  });

  it('layers of a nested model are checked', () => {
    const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dropout({ name: 'inner_drop', inputShape: [3], rate: 0.1 })] });
    const outer = tf.sequential({ layers: [inner, tf.layers.dense({ name: 'o', units: 1, kernelInitializer: seeded(9) })] });
    expect(checkDeterminism(outer, [], fresh)).toEqual([
      "Layer 'inner_drop' (Dropout, rate 0.1) has no seed: its dropout masks come from Math.random, so a rerun or a resume " +
        'differs. Give it one: tf.layers.dropout({ rate: 0.1, seed: 1 }) (tfjs then draws the same mask at every step).',
    ]);
  });

  it('a tf.data input', () => {
    const plain = tf.data.array([{ xs: [1, 2, 3], ys: [0, 1] }]).batch(1);
    expect(checkDeterminism(seededModel(), [plain], fresh)).toEqual([
      'The training input is a tf.data dataset, not a tfjs-resumable data.* one: its position is not saved (a resume ' +
        'starts it over) and a tf.data shuffle without a seed is seeded from the clock. ' +
        "Build it with data.* from 'tfjs-resumable' (same method names).",
    ]);
  });
});

describe('the warnings at the start of a run, through the run logger', () => {
  const unseededModel = () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ name: 'plain', inputShape: [3], units: 2 }));
    m.add(tf.layers.dropout({ name: 'drop', rate: 0.5 }));
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    return m;
  };
  const dropWarning =
    "Layer 'drop' (Dropout, rate 0.5) has no seed: its dropout masks come from Math.random, so a rerun or a resume " +
    'differs. Give it one: tf.layers.dropout({ rate: 0.5, seed: 1 }) (tfjs then draws the same mask at every step).';
  const initWarning =
    "Unseeded initializers, so a fresh start draws different initial weights on every run: 'plain'.kernelInitializer " +
    '(VarianceScaling). Give each a nonzero seed, e.g. kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }).';

  it('resumableFit: a seeded run logs nothing; an unseeded one warns, and on resume only for what still matters', async () => {
    const quiet = new RecordingLogger();
    await resumableFit(seededModel(), dataset(), { epochs: 1, verbose: 0 }, { modelDir: tempDir('det-seeded'), saveSteps: 1, logger: quiet, preemption: false });
    expect(quiet.warnings).toEqual([]);

    const modelDir = tempDir('det-unseeded');
    const first = new RecordingLogger();
    await resumableFit(unseededModel(), dataset(), { epochs: 1, verbose: 0 }, { modelDir, saveSteps: 1, logger: first, preemption: false });
    expect(first.warnings).toEqual([dropWarning, initWarning]);
    const resumed = new RecordingLogger();
    const result = await resumableFit(unseededModel(), dataset(), { epochs: 2, verbose: 0 }, { modelDir, saveSteps: 1, logger: resumed, preemption: false });
    expect(result.restoredFrom?.globalStep).toBe(2);
    expect(resumed.warnings).toEqual([dropWarning]);
  });

  it('Estimator.train warns the same way', async () => {
    const logger = new RecordingLogger();
    const config = new RunConfig({ saveCheckpointsSteps: 1, backgroundCheckpointWrites: false }, {});
    const est = new Estimator({ model: unseededModel(), modelDir: tempDir('det-est'), config, logger });
    await est.train(dataset, { steps: 1 });
    expect(logger.warnings).toEqual([dropWarning, initWarning]);
  });
});
