/**
 * The backend the suite trains on: `cpu` by default (`npm test`), `tensorflow` under
 * `npm run test:tfjs-node`, which sets `TFJS_RESUMABLE_TEST_BACKEND=tensorflow`. Child processes the tests
 * start inherit the variable, so they train on the same backend as the test that compares their bits.
 */
import * as tf from '@tensorflow/tfjs';

/** The environment variable that picks the test backend. */
export const TEST_BACKEND_ENV = 'TFJS_RESUMABLE_TEST_BACKEND';

/** Backends the suite can run on. */
export type TestBackend = 'cpu' | 'tensorflow' | 'wasm';

/** The backend named by {@link TEST_BACKEND_ENV} (default `cpu`); any other value is an error. */
export function testBackendName(): TestBackend {
  const raw = process.env[TEST_BACKEND_ENV] ?? 'cpu';
  if (raw === 'cpu' || raw === 'tensorflow' || raw === 'wasm') return raw;
  throw new Error(`${TEST_BACKEND_ENV} must be cpu, tensorflow or wasm, got "${raw}".`);
}

/**
 * Loads the package the test backend needs (a failure is thrown, never skipped: a tfjs-node suite that
 * cannot load tfjs-node must fail) and makes it the active backend.
 */
export async function useTestBackend(): Promise<TestBackend> {
  const name = testBackendName();
  if (name === 'tensorflow') loadTfjsNode();
  if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`tfjs could not initialise the ${name} backend.`);
  await tf.ready();
  return name;
}

/** Requires `@tensorflow/tfjs-node`, with what to do when it does not load. */
export function loadTfjsNode(): void {
  try {
    require('@tensorflow/tfjs-node');
  } catch (error) {
    throw new Error(
      `${TEST_BACKEND_ENV}=tensorflow but @tensorflow/tfjs-node does not load: ${(error as Error).message}\n` +
        'Install it (npm install @tensorflow/tfjs-node) or build it with bash ../shared/tools/tfjs-node-offline.sh.',
    );
  }
}
