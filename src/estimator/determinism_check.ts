import * as tf from '@tensorflow/tfjs';
import { CheckpointableDataset } from '../data/dataset';

/** Options of {@link checkDeterminism}. */
export interface DeterminismCheckOptions {
  /**
   * Whether this run starts from the model's initial weights (no checkpoint restored). Unseeded
   * initializers only matter then: after a restore the weights come from the checkpoint.
   */
  freshStart: boolean;
}

/** Layers whose only randomness is a dropout mask that tfjs-layers seeds from the layer's `seed`, with their factory. */
const SEEDABLE_DROPOUT_LAYERS = new Map([
  ['Dropout', 'dropout'],
  ['SpatialDropout1D', 'spatialDropout1d'],
]);

/** Layers that draw from `Math.random` at every training step and have no seed option in tfjs-layers. */
const UNSEEDABLE_NOISE_LAYERS = new Set(['GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/**
 * Initializers that sample a normal distribution. tfjs's normal sampler (`MPRandGauss`) takes
 * `seed ? seed : Math.random()`, so a seed of 0 is no seed there; the uniform sampler checks `seed == null`.
 */
const NORMAL_INITIALIZERS = new Set(['RandomNormal', 'TruncatedNormal', 'Orthogonal']);

/** A `{ className, config }` node of a tfjs-layers configuration (layers, cells, initializers). */
interface SerializedObject {
  className: string;
  config: Record<string, unknown>;
}

/**
 * Lists what will make a rerun, or a resume, of this training differ from the uninterrupted run and can be
 * seen before it starts, one human-readable warning per finding (empty when nothing was found):
 * - a `Dropout` / `SpatialDropout1D` layer without `seed` (its masks come from `Math.random`);
 * - a `GaussianNoise`, `GaussianDropout` or `AlphaDropout` layer, or a recurrent layer with `dropout` /
 *   `recurrentDropout`: tfjs-layers gives these no seed at all;
 * - on a fresh start only, random initializers (`glorotUniform`, `heNormal`, ...) without a seed, or with
 *   seed 0 where tfjs's normal sampler reads 0 as "no seed";
 * - a training input that is a plain `tf.data` dataset: its position is not saved and its unseeded
 *   shuffle is seeded from the clock.
 *
 * The model is read through `model.getConfig()`, so nested models, wrappers (`bidirectional`,
 * `timeDistributed`) and RNN cells are covered. A `data.*` shuffle without a seed is not reported: it uses a
 * fixed seed derived from the pipeline, so it is reproducible. What no check can see: `Math.random`,
 * `Date.now` or other outside state inside a `map`, `filter` or generator, and a change of backend.
 */
export function checkDeterminism(
  model: tf.LayersModel,
  datasets: readonly tf.data.Dataset<tf.TensorContainer>[],
  options: DeterminismCheckOptions,
): string[] {
  const warnings: string[] = [];
  const unseededInitializers: string[] = [];
  visitLayers(model.getConfig(), (layer) => {
    warnings.push(...layerWarnings(layer));
    if (options.freshStart) unseededInitializers.push(...unseededInitializersOf(layer));
  });
  if (unseededInitializers.length > 0) {
    warnings.push(
      `Unseeded initializers, so a fresh start draws different initial weights on every run: ${unseededInitializers.join(', ')}. ` +
        'Give each a nonzero seed, e.g. kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }).',
    );
  }
  for (const dataset of datasets) {
    if (!(dataset instanceof CheckpointableDataset)) {
      warnings.push(
        'The training input is a tf.data dataset, not a tfjs-resumable data.* one: its position is not saved ' +
          '(a resume starts it over) and a tf.data shuffle without a seed is seeded from the clock. ' +
          "Build it with data.* from 'tfjs-resumable' (same method names).",
      );
    }
  }
  return warnings;
}

function layerWarnings(layer: SerializedObject): string[] {
  const { className, config } = layer;
  const name = String(config.name);
  if (SEEDABLE_DROPOUT_LAYERS.has(className) && config.seed == null && isPositive(config.rate)) {
    return [
      `Layer '${name}' (${className}, rate ${config.rate}) has no seed: its dropout masks come from Math.random, ` +
        `so a rerun or a resume differs. Give it one: tf.layers.${SEEDABLE_DROPOUT_LAYERS.get(className)}({ rate: ${config.rate}, seed: 1 }) ` +
        '(tfjs then draws the same mask at every step).',
    ];
  }
  if (UNSEEDABLE_NOISE_LAYERS.has(className)) {
    return [
      `Layer '${name}' (${className}) draws its noise from Math.random at every training step and tfjs-layers ` +
        `${tf.version_layers} has no seed for it, so a rerun or a resume differs. Remove it for bit-exact runs.`,
    ];
  }
  const rnnDropouts = ['dropout', 'recurrentDropout'].filter((key) => isPositive(config[key]));
  if (rnnDropouts.length > 0) {
    return [
      `Layer '${name}' (${className}, ${rnnDropouts.map((key) => `${key} ${config[key]}`).join(', ')}) draws its ` +
        `dropout masks from Math.random and tfjs-layers ${tf.version_layers} has no seed for them, so a rerun or a ` +
        `resume differs. Set ${rnnDropouts.join(' and ')} to 0 for bit-exact runs.`,
    ];
  }
  return [];
}

function unseededInitializersOf(layer: SerializedObject): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(layer.config)) {
    if (!key.endsWith('Initializer') || !isSerializedObject(value) || !('seed' in value.config)) continue;
    const seed = value.config.seed;
    const normal = NORMAL_INITIALIZERS.has(value.className) || value.config.distribution === 'normal';
    if (seed == null) found.push(`'${layer.config.name}'.${key} (${value.className})`);
    else if (seed === 0 && normal) found.push(`'${layer.config.name}'.${key} (${value.className}, seed 0 counts as none)`);
  }
  return found;
}

/** Calls `visit` for every layer-like node (layers, nested models' layers, wrapped layers, RNN cells). */
function visitLayers(node: unknown, visit: (layer: SerializedObject) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) visitLayers(child, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  if (isSerializedObject(node) && typeof node.config.name === 'string') visit(node);
  for (const child of Object.values(node)) visitLayers(child, visit);
}

function isSerializedObject(value: unknown): value is SerializedObject {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<SerializedObject>;
  return typeof candidate.className === 'string' && candidate.config !== null && typeof candidate.config === 'object';
}

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && value > 0;
}
