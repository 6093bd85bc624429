import * as tf from '@tensorflow/tfjs';
import { consoleLogger, type CheckpointLogger } from './checkpoint/logger';
import { ResumableError } from './errors';
import { trainingProbe } from './backend_probe';

/** None of the requested backends could be initialised; the message lists why each failed. */
export class NoBackendError extends ResumableError {}

/** The backends `useFastestBackend` tries, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Where `useFastestBackend` found its backend, and why it skipped the faster ones. */
export interface BackendChoice {
  /** The backend now active in tfjs. */
  backend: BackendName;
  /** The faster candidates that failed to load or cannot train the model, in the order they were tried. */
  skipped: {
    /** The candidate that was tried. */
    backend: BackendName;
    /**
     * Why it was skipped: the first line of the load error, that it failed to initialise, or that it cannot
     * train the model (naming the missing kernel).
     */
    reason: string;
  }[];
}

/** Options of {@link useFastestBackend}. */
export interface UseFastestBackendOptions {
  /** Backends to try, in order; default `['tensorflow', 'wasm', 'cpu']`. */
  candidates?: BackendName[];
  /** Where a fallback because a backend cannot train the model is reported. Default `console.warn`. */
  logger?: CheckpointLogger;
}

/**
 * Selects the fastest backend that loads on this machine: `tensorflow` (from `@tensorflow/tfjs-node`,
 * native), then `wasm` (`@tensorflow/tfjs-backend-wasm`, ships its binaries in the npm package), then
 * the pure-JS `cpu`. Both optional packages are loaded with `require` inside a try, never imported at
 * module load, so a machine without them still works.
 *
 * Given the model, a backend is taken only if it can train it: one training step of a copy of the model
 * (same layers, loss and optimizer class, fresh weights, one example of zeros) runs on the candidate, so
 * every kernel training needs is exercised, gradients and optimizer update included; the model itself is
 * not touched. A backend missing a kernel (wasm has no `Conv2DBackpropFilter`, so a CNN cannot train on
 * it) is skipped with a warning naming the kernel. A copy that cannot be built (a custom layer not
 * registered with `tf.serialization.registerClass`) leaves the backend unchecked, with a warning.
 *
 * The order rests on `npm run bench` (bench/backend_speed.ts, steps/s side by side in one process): tensorflow
 * was never slower than wasm (1.13x for a 784-128-10 MLP at batch 32, 3.9x for 784-512-512-10 at batch 64) and
 * cpu trained at about 0.16x wasm, so the first of them that loads and trains the model is the fastest.
 *
 * Different backends produce different bits: a run resumed on another backend is not bit-for-bit the
 * uninterrupted run (checkpoints record the backend and restoring warns on a change).
 */
export async function useFastestBackend(model?: tf.LayersModel, options?: UseFastestBackendOptions): Promise<BackendChoice>;
/** Selects the fastest backend that loads, without checking a model (see the overload with a model). */
export async function useFastestBackend(options?: UseFastestBackendOptions): Promise<BackendChoice>;
export async function useFastestBackend(
  modelOrOptions?: tf.LayersModel | UseFastestBackendOptions,
  maybeOptions: UseFastestBackendOptions = {},
): Promise<BackendChoice> {
  const model = modelOrOptions instanceof tf.LayersModel ? modelOrOptions : undefined;
  const options = modelOrOptions instanceof tf.LayersModel ? maybeOptions : (modelOrOptions ?? {});
  const candidates = options.candidates ?? ['tensorflow', 'wasm', 'cpu'];
  const logger = options.logger ?? consoleLogger;
  const skipped: BackendChoice['skipped'] = [];
  for (const backend of candidates) {
    let reason = await tryBackend(backend);
    if (reason === null && model !== undefined) {
      const probe = await trainingProbe(model);
      if (probe.kind === 'missing-kernel') {
        reason = `cannot train this model: kernel '${probe.kernel}' is not registered for backend '${backend}'`;
        const next = candidates.slice(candidates.indexOf(backend) + 1);
        logger.warn(`Backend '${backend}' ${reason}; trying ${next.length > 0 ? next.join(', ') : 'no other backend'}.`);
      } else if (probe.kind === 'unchecked') {
        logger.warn(`Could not check that backend '${backend}' can train the model (${probe.why}); using it unchecked.`);
      }
    }
    if (reason === null) return { backend, skipped };
    skipped.push({ backend, reason });
  }
  throw new NoBackendError(
    `None of the backends ${candidates.join(', ')} could be initialised` +
      `${model !== undefined ? ' and train the model' : ''}: ` +
      skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ') +
      ". Install @tensorflow/tfjs-backend-wasm, or include 'cpu' (always available with @tensorflow/tfjs).",
  );
}

/** Loads and activates one backend; returns `null` on success or why it failed. */
async function tryBackend(backend: BackendName): Promise<string | null> {
  const listenersBefore = processErrorListeners();
  try {
    if (backend === 'tensorflow') require('@tensorflow/tfjs-node');
    if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
    const activated = await tf.setBackend(backend);
    if (!activated) return 'registered but failed to initialise';
    await tf.ready();
    return null;
  } catch (error) {
    // Duck-typed: errors thrown by another realm's require (jest, vm) are not instances of this Error.
    const message = (error as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message.split('\n')[0] : String(error);
  } finally {
    removeListenersAddedSince(listenersBefore);
  }
}

const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

// Typed as a plain emitter: Node's `process.listeners` overloads take one literal event name at a time.
const processEvents: NodeJS.EventEmitter = process;

function processErrorListeners(): Map<string, Function[]> {
  return new Map(PROCESS_ERROR_EVENTS.map((event) => [event, processEvents.listeners(event)]));
}

/**
 * The wasm backend's emscripten glue installs `process.on('uncaughtException' | 'unhandledRejection')`
 * handlers that rethrow. Node then reports every later uncaught error at that rethrow, printing its source
 * line, which is the whole minified module on one line (and exits with status 7). Removing them restores
 * Node's own report: the error's message and stack, exit status 1.
 */
function removeListenersAddedSince(before: Map<string, Function[]>): void {
  for (const event of PROCESS_ERROR_EVENTS) {
    const known = before.get(event) ?? [];
    for (const listener of processEvents.listeners(event)) {
      if (!known.includes(listener)) processEvents.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
}
