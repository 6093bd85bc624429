import * as tf from '@tensorflow/tfjs';
import { useFastestBackend } from './src/backend';
async function main() {
  const cnn = tf.sequential();
  cnn.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3 }));
  cnn.add(tf.layers.flatten());
  cnn.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
  cnn.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const mlp = tf.sequential();
  mlp.add(tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }));
  mlp.add(tf.layers.dense({ units: 2 }));
  mlp.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  console.log(await useFastestBackend(cnn, { candidates: ['wasm', 'cpu'] }), tf.getBackend());
  console.log(await useFastestBackend(mlp, { candidates: ['wasm', 'cpu'] }), tf.getBackend());
  console.log(process.listeners('unhandledRejection').length);
  throw new Error('boom');
}
main();
