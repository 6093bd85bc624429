import * as tf from '@tensorflow/tfjs';

/** What one training step of a copy of the model showed about the active backend. */
export type ProbeResult =
  | { kind: 'trains' }
  | { kind: 'missing-kernel'; kernel: string }
  | { kind: 'unchecked'; why: string };

const MISSING_KERNEL = /Kernel '([^']+)' not registered for backend/;

/**
 * Runs one training step of a copy of `model` on the active backend: same topology, loss and optimizer
 * class and settings, fresh weights, a batch of one example of zeros. That exercises exactly the kernels
 * training needs (forward, gradients, loss, optimizer update), which no table of layer classes can promise
 * across tfjs versions. The model, its weights and its optimizer state are left untouched.
 *
 * Only a missing kernel says the backend cannot train the model; any other failure (a copy that cannot be
 * built, a loss that rejects zeros) says nothing about the backend, so it is reported as `unchecked`.
 */
export async function trainingProbe(model: tf.LayersModel): Promise<ProbeResult> {
  let copy: tf.LayersModel;
  try {
    copy = await tf.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] });
  } catch (error) {
    return { kind: 'unchecked', why: `the model could not be copied: ${firstLine(error)}` };
  }
  const optimizer = copyOptimizer(model.optimizer);
  const tensors: tf.Tensor[] = [];
  try {
    // Uncompiled: a generic loss still exercises every layer's gradients.
    const loss = model.optimizer === undefined ? 'meanSquaredError' : model.loss;
    copy.compile({ optimizer, loss });
    const xs = copy.inputs.map((input) => zerosOf(input.shape, input.dtype));
    const ys = copy.outputs.map((output, i) => zerosOf(targetShape(output.shape, lossName(loss, i, copy)), 'float32'));
    tensors.push(...xs, ...ys);
    await copy.trainOnBatch(xs.length === 1 ? xs[0] : xs, ys.length === 1 ? ys[0] : ys);
    return { kind: 'trains' };
  } catch (error) {
    const missing = MISSING_KERNEL.exec(firstLine(error));
    if (missing !== null) return { kind: 'missing-kernel', kernel: missing[1] };
    return { kind: 'unchecked', why: `a training step of a copy of the model failed: ${firstLine(error)}` };
  } finally {
    tf.dispose(tensors);
    copy.dispose();
    optimizer.dispose();
  }
}

/** A new optimizer of the same class and settings (sharing the model's would add slots to its state). */
function copyOptimizer(optimizer: tf.Optimizer | undefined): tf.Optimizer {
  if (optimizer === undefined) return tf.train.sgd(0.01);
  try {
    const constructor = optimizer.constructor as tf.serialization.SerializableConstructor<tf.Optimizer>;
    return constructor.fromConfig(constructor, optimizer.getConfig());
  } catch {
    return tf.train.sgd(0.01);
  }
}

function zerosOf(shape: (number | null)[], dtype: tf.DataType): tf.Tensor {
  return tf.zeros(shape.map((dim) => dim ?? 1), dtype);
}

/** Sparse categorical losses take class indices: the target has one value where the output has a vector. */
function targetShape(outputShape: (number | null)[], loss: unknown): (number | null)[] {
  return typeof loss === 'string' && /^sparse/i.test(loss) ? [...outputShape.slice(0, -1), 1] : outputShape;
}

function lossName(loss: tf.LayersModel['loss'] | string, index: number, model: tf.LayersModel): unknown {
  if (Array.isArray(loss)) return loss[index];
  if (loss !== null && typeof loss === 'object') return (loss as Record<string, unknown>)[model.outputNames[index]];
  return loss;
}

function firstLine(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return (typeof message === 'string' ? message : String(error)).split('\n')[0];
}
