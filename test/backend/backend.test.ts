import * as tf from '@tensorflow/tfjs';
import { NoBackendError, useFastestBackend } from '../../src/backend';

// The same outcome whether or not @tensorflow/tfjs-node is in node_modules: this file makes it fail to
// load the way a missing package does (test/tfjs_node/ covers the machine where it loads).
const NOT_LOADING = "Cannot find module '@tensorflow/tfjs-node'";
jest.mock(
  '@tensorflow/tfjs-node',
  () => {
    throw new Error(`${NOT_LOADING}\nRequire stack:\n- src/backend.ts`);
  },
  { virtual: true },
);

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('useFastestBackend', () => {
  it('skips a backend that does not load, says why, and takes the next one', async () => {
    const choice = await useFastestBackend({ candidates: ['tensorflow', 'cpu'] });
    expect(choice).toEqual({ backend: 'cpu', skipped: [{ backend: 'tensorflow', reason: NOT_LOADING }] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('throws NoBackendError listing every failure when none loads', async () => {
    await expect(useFastestBackend({ candidates: ['tensorflow'] })).rejects.toThrow(
      new NoBackendError(
        `None of the backends tensorflow could be initialised: tensorflow: ${NOT_LOADING}. ` +
          "Install @tensorflow/tfjs-backend-wasm, or include 'cpu' (always available with @tensorflow/tfjs).",
      ),
    );
  });
});
