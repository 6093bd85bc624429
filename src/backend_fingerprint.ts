import * as tf from '@tensorflow/tfjs';

/**
 * What decides the bits a training step produces, besides the model, data and seeds: the backend and the
 * exact code that runs its kernels. Two runs with equal fingerprints give the same weights bit for bit;
 * a resume under a different one continues correctly but not bit for bit. Every model checkpoint
 * records the fingerprint of its writer (`state.json` field `fingerprint`).
 *
 * Fields that do not apply to a backend are absent (`tensorflow` and `oneDnn` only for `tensorflow`,
 * `wasmSimd` / `wasmThreads` only for `wasm`); all but `backend` are absent in checkpoints written
 * before tfjs-resumable 0.2.0.
 */
export interface BackendFingerprint {
  /** `tf.getBackend()`: `tensorflow`, `wasm`, `cpu`, ... */
  backend: string;
  /** Version of tfjs-core, whose op implementations (gradients, fused ops) every backend runs. */
  tfjs?: string;
  /** Version of `@tensorflow/tfjs-node` (backend `tensorflow`). */
  tfjsNode?: string;
  /** Version of the TensorFlow C library tfjs-node runs on (backend `tensorflow`). */
  tensorflow?: string;
  /**
   * Whether TensorFlow's oneDNN kernels are used (backend `tensorflow`): `TF_ENABLE_ONEDNN_OPTS` as
   * TensorFlow reads it at start-up; oneDNN sums in another order, so the bits differ.
   */
  oneDnn?: 'on' | 'off';
  /** Version of `@tensorflow/tfjs-backend-wasm` (backend `wasm`). */
  tfjsBackendWasm?: string;
  /** Whether the wasm binary in use is the SIMD build (backend `wasm`). */
  wasmSimd?: boolean;
  /** Whether the wasm binary in use is the multi-threaded build (backend `wasm`). */
  wasmThreads?: boolean;
}

/** The fields of a fingerprint in the order differences are reported, with the name used in messages. */
const FIELDS: ReadonlyArray<readonly [keyof BackendFingerprint, string]> = [
  ['backend', 'backend'],
  ['tfjs', 'tfjs'],
  ['tfjsNode', 'tfjs-node'],
  ['tensorflow', 'TensorFlow'],
  ['oneDnn', 'oneDNN (TF_ENABLE_ONEDNN_OPTS)'],
  ['tfjsBackendWasm', 'tfjs-backend-wasm'],
  ['wasmSimd', 'wasm SIMD'],
  ['wasmThreads', 'wasm threads'],
];

/**
 * The fingerprint of the backend active now (`tf.getBackend()`; call after `tf.ready()`). Optional
 * packages are only looked at when their backend is the active one, so they are never loaded by this.
 */
export function currentBackendFingerprint(): BackendFingerprint {
  const backend = tf.getBackend();
  const fingerprint: BackendFingerprint = { backend, tfjs: tf.version_core };
  if (backend === 'tensorflow') {
    const tfjsNode = packageVersion('@tensorflow/tfjs-node');
    if (tfjsNode !== undefined) fingerprint.tfjsNode = tfjsNode;
    // tfjs-node's backend keeps its N-API binding, which reports the C library's TF_Version().
    const binding = (tf.backend() as unknown as { binding?: { TF_Version?: unknown } }).binding;
    if (typeof binding?.TF_Version === 'string') fingerprint.tensorflow = binding.TF_Version;
    fingerprint.oneDnn = oneDnnSetting(process.env.TF_ENABLE_ONEDNN_OPTS, process.arch);
  } else if (backend === 'wasm') {
    const wasm = packageVersion('@tensorflow/tfjs-backend-wasm');
    if (wasm !== undefined) fingerprint.tfjsBackendWasm = wasm;
    const simd = evaluatedFlag('WASM_HAS_SIMD_SUPPORT');
    const threads = evaluatedFlag('WASM_HAS_MULTITHREAD_SUPPORT');
    if (simd !== undefined) fingerprint.wasmSimd = simd;
    if (threads !== undefined) fingerprint.wasmThreads = threads;
  }
  return fingerprint;
}

/**
 * Whether TensorFlow uses oneDNN for a value of `TF_ENABLE_ONEDNN_OPTS`, read the way TensorFlow's
 * `ReadBoolFromEnvVar` does (`0`/`false` and `1`/`true`, any case); unset or unreadable means TF's
 * default, which is on for x86-64 builds and off elsewhere.
 */
export function oneDnnSetting(value: string | undefined, arch: string): 'on' | 'off' {
  const v = value?.trim().toLowerCase();
  if (v === '0' || v === 'false') return 'off';
  if (v === '1' || v === 'true') return 'on';
  return arch === 'x64' ? 'on' : 'off';
}

/**
 * What differs between the fingerprint a checkpoint was written under and the one it is resumed under,
 * one phrase per field (`oneDNN (TF_ENABLE_ONEDNN_OPTS) on → off`); empty when they match. Another
 * backend is one difference (`backend wasm → cpu`: its other fields follow from it). A field the
 * checkpoint does not record (written before 0.2.0) is not compared.
 */
export function fingerprintDifferences(written: BackendFingerprint, current: BackendFingerprint): string[] {
  if (written.backend !== current.backend) return [`backend ${written.backend} → ${current.backend}`];
  const differences: string[] = [];
  for (const [field, label] of FIELDS) {
    if (written[field] === undefined) continue;
    if (written[field] !== current[field]) {
      differences.push(`${label} ${show(written[field])} → ${show(current[field])}`);
    }
  }
  return differences;
}

function show(value: string | boolean | undefined): string {
  if (value === undefined) return 'none';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return value;
}

function packageVersion(name: string): string | undefined {
  try {
    const manifest = require(`${name}/package.json`) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

/** An async tfjs flag's value if the backend's initialisation already evaluated it. */
function evaluatedFlag(name: string): boolean | undefined {
  const env = tf.env();
  if (!(name in env.getFlags())) return undefined;
  const value = env.getFlags()[name];
  return typeof value === 'boolean' ? value : undefined;
}
