import * as tf from '@tensorflow/tfjs';

/** tfjs's `BaseCallback` (the type of every entry of a callback list), which tfjs does not export by name. */
export type BaseCallback = NonNullable<ConstructorParameters<typeof tf.CallbackList>[0]>[number];

/** What fit's `callbacks` accepts: a callback or a plain `{onEpochEnd, ...}` object, or a list of them. */
export type FitCallbacks = BaseCallback | tf.CustomCallbackArgs | (BaseCallback | tf.CustomCallbackArgs)[];

function isBaseCallback(value: BaseCallback | tf.CustomCallbackArgs): value is BaseCallback {
  return typeof (value as Partial<BaseCallback>).setParams === 'function';
}

/**
 * fit's `callbacks` as a list of callback objects: plain objects wrapped in `tf.CustomCallback`, as tfjs
 * does when the list is only plain objects (tfjs skips the wrapping when the first entry is a callback,
 * which is always the case once resumableFit puts its own callbacks first).
 */
export function toCallbackList(callbacks: FitCallbacks | undefined, yieldEvery?: tf.ModelFitDatasetArgs<tf.TensorContainer>['yieldEvery']): BaseCallback[] {
  if (callbacks === undefined || callbacks === null) return [];
  const list = Array.isArray(callbacks) ? callbacks : [callbacks];
  return list.map((entry) => (isBaseCallback(entry) ? entry : new tf.CustomCallback(entry, yieldEvery)));
}
