import * as tf from '@tensorflow/tfjs';
import { currentBackendFingerprint, fingerprintDifferences, oneDnnSetting } from '../../src/backend_fingerprint';
import { restoreLatest, saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { readCheckpointState } from '../../src/checkpoint/model_checkpoint';
import { decodeChecksummedJson, encodeChecksummedJson } from '../../src/checkpoint/safe_json';
import type { JsonValue } from '../../src/data/state';
import { CorruptCheckpointError } from '../../src/errors';
import { RecordingLogger, tempDir, tinyModel, train, weightBytes } from './helpers';

const WASM_VERSION = (require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
const NOT_BIT_FOR_BIT =
  'training continues correctly but not bit for bit like an uninterrupted run. ' +
  'Resume with the setup it was written under to get the same bits.';

beforeAll(async () => {
  require('@tensorflow/tfjs-backend-wasm');
});
afterEach(async () => {
  await tf.setBackend('cpu');
});

/** Rewrites `model.ckpt-<step>/state.json` with `edit` applied (re-checksummed, as an older or other writer would). */
async function editState(dir: string, step: number, edit: (state: { [key: string]: JsonValue }) => void): Promise<void> {
  const storage = await LocalCheckpointStorage.open(dir);
  const rel = `model.ckpt-${step}/state.json`;
  const state = decodeChecksummedJson(await storage.read(rel), 1 << 20, rel);
  edit(state);
  await storage.writeAtomic(rel, encodeChecksummedJson(state));
}

async function stateOf(dir: string, step: number) {
  return readCheckpointState(await LocalCheckpointStorage.open(dir), `model.ckpt-${step}`);
}

describe('every checkpoint records what decided its bits', () => {
  it('cpu: the backend and the tfjs version', async () => {
    await tf.setBackend('cpu');
    const dir = tempDir('fp-cpu');
    await saveCheckpoint(tinyModel(), dir, { globalStep: 1, epoch: 0 });
    expect((await stateOf(dir, 1)).fingerprint).toEqual({ backend: 'cpu', tfjs: tf.version_core });
  });

  it('wasm: also the tfjs-backend-wasm version and whether its SIMD and threaded builds run', async () => {
    await tf.setBackend('wasm');
    const dir = tempDir('fp-wasm');
    await saveCheckpoint(tinyModel(), dir, { globalStep: 1, epoch: 0 });
    expect((await stateOf(dir, 1)).fingerprint).toEqual({
      backend: 'wasm',
      tfjs: tf.version_core,
      tfjsBackendWasm: WASM_VERSION,
      wasmSimd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      wasmThreads: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    });
  });
});

describe('a resume under another setup warns, naming the difference', () => {
  it('written on wasm, resumed on cpu: the weights arrive intact and the warning names the backends', async () => {
    await tf.setBackend('wasm');
    const dir = tempDir('fp-wasm-cpu');
    const written = tinyModel();
    await train(written, 0, 3);
    await saveCheckpoint(written, dir, { globalStep: 3, epoch: 0 });
    const wasmBits = weightBytes(written);

    await tf.setBackend('cpu');
    const logger = new RecordingLogger();
    const resumed = tinyModel();
    const restored = await restoreLatest(resumed, dir, { logger });
    expect(restored?.fingerprint.backend).toBe('wasm');
    expect(weightBytes(resumed)).toEqual(wasmBits);
    expect(logger.warnings).toEqual([
      `Checkpoint ${dir}/model.ckpt-3 was written under another backend setup than this run's (backend wasm → cpu): ${NOT_BIT_FOR_BIT}`,
    ]);
  });

  it('same backend, another wasm build (SIMD) and tfjs version: both named, in one warning', async () => {
    await tf.setBackend('wasm');
    const dir = tempDir('fp-simd');
    await saveCheckpoint(tinyModel(), dir, { globalStep: 2, epoch: 0 });
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    await editState(dir, 2, (state) => {
      const fingerprint = state.fingerprint as { [key: string]: JsonValue };
      fingerprint.tfjs = '4.0.0';
      fingerprint.wasmSimd = !simd;
    });
    const logger = new RecordingLogger();
    await restoreLatest(tinyModel(), dir, { logger });
    const onOff = (v: boolean): string => (v ? 'on' : 'off');
    expect(logger.warnings).toEqual([
      `Checkpoint ${dir}/model.ckpt-2 was written under another backend setup than this run's ` +
        `(tfjs 4.0.0 → ${tf.version_core}, wasm SIMD ${onOff(!simd)} → ${onOff(simd as boolean)}): ${NOT_BIT_FOR_BIT}`,
    ]);
  });

  it('the same setup: no warning', async () => {
    await tf.setBackend('wasm');
    const dir = tempDir('fp-same');
    await saveCheckpoint(tinyModel(), dir, { globalStep: 2, epoch: 0 });
    const logger = new RecordingLogger();
    await restoreLatest(tinyModel(), dir, { logger });
    expect(logger.warnings).toEqual([]);
  });
});

describe('state.json from before 0.2.0 (no fingerprint)', () => {
  it('still restores; only the backend is compared', async () => {
    await tf.setBackend('cpu');
    const dir = tempDir('fp-old');
    const model = tinyModel();
    await train(model, 0, 2);
    await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 });
    await editState(dir, 2, (state) => {
      delete state.fingerprint;
    });
    const logger = new RecordingLogger();
    const resumed = tinyModel();
    const restored = await restoreLatest(resumed, dir, { logger });
    expect(restored?.fingerprint).toEqual({ backend: 'cpu' });
    expect(weightBytes(resumed)).toEqual(weightBytes(model));
    expect(logger.warnings).toEqual([]);
  });

  it('an invalid fingerprint is a corrupt state.json, named with its field', async () => {
    await tf.setBackend('cpu');
    const dir = tempDir('fp-bad');
    await saveCheckpoint(tinyModel(), dir, { globalStep: 2, epoch: 0 });
    await editState(dir, 2, (state) => {
      (state.fingerprint as { [key: string]: JsonValue }).oneDnn = 'maybe';
    });
    await expect(stateOf(dir, 2)).rejects.toThrow(
      new CorruptCheckpointError(`${dir}/model.ckpt-2/state.json: fingerprint.oneDnn must be "on" or "off".`),
    );
  });
});

describe('fingerprint rules', () => {
  it('TF_ENABLE_ONEDNN_OPTS read as TensorFlow reads it; unset is on for x86-64 only', () => {
    expect(['0', 'false', 'FALSE', ' 0 '].map((v) => oneDnnSetting(v, 'x64'))).toEqual(['off', 'off', 'off', 'off']);
    expect(['1', 'true', 'True'].map((v) => oneDnnSetting(v, 'arm64'))).toEqual(['on', 'on', 'on']);
    expect([undefined, 'yes'].map((v) => oneDnnSetting(v, 'x64'))).toEqual(['on', 'on']);
    expect([undefined, 'yes'].map((v) => oneDnnSetting(v, 'arm64'))).toEqual(['off', 'off']);
  });

  it('differences: fields the checkpoint does not record are not compared', () => {
    const current = { backend: 'tensorflow', tfjs: '4.22.0', tfjsNode: '4.22.0', tensorflow: '2.21.0', oneDnn: 'off' as const };
    expect(fingerprintDifferences({ backend: 'tensorflow' }, current)).toEqual([]);
    expect(fingerprintDifferences({ ...current, tensorflow: '2.9.1', oneDnn: 'on' }, current)).toEqual([
      'TensorFlow 2.9.1 → 2.21.0',
      'oneDNN (TF_ENABLE_ONEDNN_OPTS) on → off',
    ]);
    expect(currentBackendFingerprint()).toEqual({ backend: 'cpu', tfjs: tf.version_core });
  });
});
