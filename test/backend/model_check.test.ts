import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { NoBackendError, useFastestBackend } from '../../src';
import { RecordingLogger, weightBytes } from '../checkpoint/helpers';
import { smallCnn, smallMlp } from './fixtures/small_models';

beforeAll(async () => {
  await tf.setBackend('cpu');
  tf.zeros([1]).dispose(); // cpu's "install tfjs-node" banner is printed on first use, while test mode still quiets it.
  // test/setup.ts turns on tfjs's test mode, whose per-kernel leak check misreads wasm's fused kernels
  // ("internal memory leak ... after running 'fusedMatMul__op'"). Users never run in that mode.
  tf.env().set('IS_TEST', false);
});

afterAll(async () => {
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
});

const WASM_CONV_REASON = "cannot train this model: kernel 'Conv2DBackpropFilter' is not registered for backend 'wasm'";

/** One real training step on the active backend; returns the loss. */
async function trainOneStep(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor): Promise<number> {
  return (await model.trainOnBatch(xs, ys)) as number;
}

describe('useFastestBackend(model): a backend that can train the model', () => {
  it('skips wasm for a CNN, naming the missing gradient kernel, and the CNN trains on cpu', async () => {
    await tf.setBackend('cpu');
    const cnn = smallCnn();
    const before = weightBytes(cnn);
    const logger = new RecordingLogger();
    const choice = await useFastestBackend(cnn, { candidates: ['wasm', 'cpu'], logger });
    expect(choice).toEqual({ backend: 'cpu', skipped: [{ backend: 'wasm', reason: WASM_CONV_REASON }] });
    expect(tf.getBackend()).toBe('cpu');
    expect(logger.warnings).toEqual([`Backend 'wasm' ${WASM_CONV_REASON}; trying cpu.`]);
    // The probe trained a copy: the model's own weights are bit for bit what they were.
    expect(weightBytes(cnn)).toEqual(before);
    const loss = await trainOneStep(cnn, tf.ones([2, 6, 6, 1]), tf.tensor2d([[0], [2]]));
    expect(Number.isFinite(loss)).toBe(true);
    expect(weightBytes(cnn)).not.toEqual(before);
  });

  it('keeps wasm for an MLP, which trains there', async () => {
    await tf.setBackend('cpu');
    const mlp = smallMlp();
    const logger = new RecordingLogger();
    const choice = await useFastestBackend(mlp, { candidates: ['wasm', 'cpu'], logger });
    expect(choice).toEqual({ backend: 'wasm', skipped: [] });
    expect(tf.getBackend()).toBe('wasm');
    expect(logger.warnings).toEqual([]);
    const loss = await trainOneStep(mlp, tf.ones([2, 4]), tf.zeros([2, 2]));
    expect(Number.isFinite(loss)).toBe(true);
  });

  it('without a model, wasm is taken unchecked (as before)', async () => {
    expect(await useFastestBackend({ candidates: ['wasm', 'cpu'] })).toEqual({ backend: 'wasm', skipped: [] });
  });

  it('throws NoBackendError when no candidate can train the model', async () => {
    const run = useFastestBackend(smallCnn(), { candidates: ['wasm'], logger: new RecordingLogger() });
    await expect(run).rejects.toThrow(NoBackendError);
    await expect(useFastestBackend(smallCnn(), { candidates: ['wasm'], logger: new RecordingLogger() })).rejects.toThrow(
      `None of the backends wasm could be initialised and train the model: wasm: ${WASM_CONV_REASON}. ` +
        "Install @tensorflow/tfjs-backend-wasm, or include 'cpu' (always available with @tensorflow/tfjs).",
    );
  });

  it('a model that cannot be copied (an unregistered custom layer) leaves the backend unchecked, with a warning', async () => {
    class Doubler extends tf.layers.Layer {
      static readonly className = 'UnregisteredDoubler';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
      }
    }
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 }), new Doubler({})] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const logger = new RecordingLogger();
    expect(await useFastestBackend(model, { candidates: ['wasm', 'cpu'], logger })).toEqual({ backend: 'wasm', skipped: [] });
    expect(logger.warnings).toEqual([
      "Could not check that backend 'wasm' can train the model (the model could not be copied: Unknown layer: " +
        'UnregisteredDoubler. This may be due to one of the following reasons:); using it unchecked.',
    ]);
  });

  it('leaves no process error handler of the wasm module behind', async () => {
    const events = ['uncaughtException', 'unhandledRejection'] as const;
    const before = events.map((e) => process.listeners(e as 'uncaughtException').length);
    await useFastestBackend(smallCnn(), { candidates: ['wasm', 'cpu'], logger: new RecordingLogger() });
    expect(events.map((e) => process.listeners(e as 'uncaughtException').length)).toEqual(before);
  });

  it('a later uncaught error prints its own message and stack, not the minified wasm module', () => {
    const script = path.join(__dirname, 'fixtures', 'error_after_wasm.ts');
    const child = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.status).toBe(1);
    expect(child.stderr).toContain('Error: boom after choosing cpu');
    expect(child.stderr).toContain('error_after_wasm.ts');
    expect(child.stderr).not.toContain('var Module');
    // Node's report of one error: a few lines, where the wasm module's single line is ~40 kB.
    expect(child.stderr.length).toBeLessThan(2000);
  });
});
