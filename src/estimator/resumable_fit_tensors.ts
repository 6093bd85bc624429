import * as tf from '@tensorflow/tfjs';
import type { CheckpointableDataset } from '../data/dataset';
import { tensorSlices } from '../data';
import { InvalidArgumentError } from '../errors';

/** Seed of the per-epoch shuffle of `resumableFit(model, xs, ys, ...)` when the options give none. */
export const DEFAULT_SHUFFLE_SEED = 0;

/** How a `model.fit(xs, ys, args)` call runs as a resumable `fitDataset`. */
export interface TensorFitPlan {
  /** The training rows (before any validation split), shuffled per epoch when `shuffle`, in batches. */
  dataset: CheckpointableDataset<tf.TensorContainer>;
  /** fitDataset's arguments with fit's meaning. */
  args: tf.ModelFitDatasetArgs<tf.TensorContainer>;
  /** Batches per epoch: `ceil(training rows / batchSize)`. */
  stepsPerEpoch: number;
  /** Tensors made here (the split halves), to dispose when the run is over. */
  owned: tf.Tensor[];
}

/** fit arguments that have no meaning here, with the reason given to the user. */
const UNSUPPORTED: [keyof tf.ModelFitArgs, string][] = [
  ['sampleWeight', "tfjs's own fit does not support sampleWeight either ('sample weight is not supported yet'); use classWeight"],
  ['stepsPerEpoch', 'tensor inputs are split into batches of batchSize; use batchSize'],
  ['validationSteps', 'validation covers the whole validation data, as fit does without stepsPerEpoch'],
];

/**
 * The plan for `model.fit(xs, ys, args)` semantics on a checkpointable pipeline: `batchSize` (default 32),
 * `epochs` (default 1), `shuffle` (default true; each epoch a new permutation from a seeded RNG, where
 * tfjs uses `Math.random`), `validationSplit` (the last fraction of the rows, taken before shuffling, as
 * tfjs does), `validationData`, `initialEpoch`, `classWeight`, `callbacks`, `verbose`, `yieldEvery`.
 * Validation runs in batches of `batchSize`, as in fit.
 * @throws InvalidArgumentError for inputs or arguments fit would refuse, or that this path cannot honour.
 */
export function planTensorFit(xs: tf.Tensor, ys: tf.Tensor, args: tf.ModelFitArgs = {}, seed: string | number = DEFAULT_SHUFFLE_SEED): TensorFitPlan {
  if (!(xs instanceof tf.Tensor) || !(ys instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      'resumableFit(model, xs, ys, ...): xs and ys must each be one tf.Tensor (a model with several inputs or outputs: ' +
        'build a data.tensorSlices({...}) dataset and use resumableFit(model, dataset, ...)).',
    );
  }
  if (xs.rank < 1 || ys.rank < 1 || xs.shape[0] !== ys.shape[0]) {
    throw new InvalidArgumentError(`resumableFit: xs and ys must have the same number of rows, got shapes [${xs.shape}] and [${ys.shape}].`);
  }
  for (const [name, why] of UNSUPPORTED) {
    if (args[name] !== undefined && args[name] !== null) throw new InvalidArgumentError(`resumableFit: fitArgs.${name} is not supported: ${why}.`);
  }
  if (args.shuffle !== undefined && typeof args.shuffle !== 'boolean') {
    throw new InvalidArgumentError(
      `resumableFit: fitArgs.shuffle must be true or false, got ${JSON.stringify(args.shuffle)} (tfjs's fit does not implement 'batch' shuffling either).`,
    );
  }
  if (args.validationData !== undefined && args.validationData !== null && args.validationData.length !== 2) {
    throw new InvalidArgumentError(
      `resumableFit: fitArgs.validationData must be [xs, ys] (2 tensors), got ${args.validationData.length} items; validation sample weights are not supported (as in tfjs's fit).`,
    );
  }
  const batchSize = args.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new InvalidArgumentError(`resumableFit: fitArgs.batchSize must be a positive integer, got ${batchSize}.`);
  }
  const rows = xs.shape[0];
  const owned: tf.Tensor[] = [];
  let trainXs = xs;
  let trainYs = ys;
  let validationData = args.validationData as [tf.Tensor, tf.Tensor] | undefined;
  const split = args.validationSplit;
  if (validationData === undefined && split !== undefined && split !== null && split !== 0) {
    if (!(split > 0 && split < 1)) {
      throw new InvalidArgumentError(`resumableFit: fitArgs.validationSplit must be in [0, 1), got ${split}.`);
    }
    // The same split as tfjs's fit: the last rows, before any shuffling.
    const splitAt = Math.floor(rows * (1 - split));
    trainXs = xs.slice(0, splitAt);
    trainYs = ys.slice(0, splitAt);
    validationData = [xs.slice(splitAt), ys.slice(splitAt)];
    owned.push(trainXs, trainYs, ...validationData);
  }
  const trainRows = trainXs.shape[0];
  if (trainRows === 0) {
    tf.dispose(owned);
    throw new InvalidArgumentError(`resumableFit: no training rows left (${rows} rows, validationSplit ${split}).`);
  }
  const slices = tensorSlices({ xs: trainXs, ys: trainYs });
  const shuffled = args.shuffle === false ? slices : slices.shuffle(trainRows, seed, true);
  const {
    batchSize: _batchSize,
    shuffle: _shuffle,
    validationSplit: _split,
    validationData: _validationData,
    ...rest
  } = args;
  return {
    dataset: shuffled.batch(batchSize),
    args: {
      ...(rest as Omit<tf.ModelFitArgs, 'batchSize' | 'shuffle' | 'validationSplit' | 'validationData'>),
      epochs: args.epochs ?? 1,
      ...(validationData !== undefined ? { validationData, validationBatchSize: batchSize } : {}),
    } as tf.ModelFitDatasetArgs<tf.TensorContainer>,
    stepsPerEpoch: Math.ceil(trainRows / batchSize),
    owned,
  };
}
