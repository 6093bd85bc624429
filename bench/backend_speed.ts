/**
 * Training steps/s per backend (`tensorflow`, `wasm`, `cpu`) for a few model sizes, measured side by side
 * in this process: the evidence `useFastestBackend()`'s order rests on. Each cell trains a seeded MLP with
 * `model.trainOnBatch` on fixed seeded batches; backends are rotated within each size (order shifted each
 * round) so machine load drifts hit them alike; the median of the rounds is reported.
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { type BackendName, useFastestBackend } from '../src/backend';
import { BenchRow, median, runStandalone } from './bench_row';

/** One model size: an MLP `inputs → hidden… → 10` trained on batches of `batch`. */
export interface ModelSize {
  name: string;
  inputs: number;
  hidden: number[];
  batch: number;
  /** Backends not measured at this size, with why (printed as a note). */
  skip?: { backends: BackendName[]; why: string };
}

/** The sizes reported in RESULTS.md, from the examples' MLP up to where native kernels pay off. */
export const MODEL_SIZES: ModelSize[] = [
  { name: 'MLP 784-128-10, batch 32 (the examples)', inputs: 784, hidden: [128], batch: 32 },
  { name: 'MLP 784-512-512-10, batch 64', inputs: 784, hidden: [512, 512], batch: 64 },
  {
    name: 'MLP 784-2048-2048-10, batch 128',
    inputs: 784,
    hidden: [2048, 2048],
    batch: 128,
    // Measured once: 0.1 steps/s on wasm, cpu several times slower still, so a cpu cell alone takes minutes.
    skip: { backends: ['cpu'], why: 'one cpu step takes tens of seconds at this size' },
  },
];

/** Steps/s of each backend that loaded, per size. */
export type SpeedTable = Map<string, Map<BackendName, number>>;

function buildModel(size: ModelSize): tf.LayersModel {
  const model = tf.sequential();
  size.hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        ...(i === 0 ? { inputShape: [size.inputs] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: i + 1 }),
      }),
    );
  });
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 99 }) }));
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
  return model;
}

/** Steps/s of `size` on the active backend: `warmup` untimed steps, then steps until `seconds` have passed. */
async function stepsPerSecond(size: ModelSize, seconds: number): Promise<number> {
  const random = seedrandom.alea(`backend-speed-${size.name}`);
  const xs = tf.tensor2d(Float32Array.from({ length: size.batch * size.inputs }, () => random()), [size.batch, size.inputs]);
  const ys = tf.oneHot(tf.tensor1d(Int32Array.from({ length: size.batch }, () => Math.floor(random() * 10)), 'int32'), 10);
  const model = buildModel(size);
  try {
    for (let i = 0; i < 2; i++) await model.trainOnBatch(xs, ys);
    let steps = 0;
    const start = performance.now();
    // At least 3 steps, so the slowest backend at the biggest size still gives a rate.
    while (steps < 3 || performance.now() - start < seconds * 1000) {
      await model.trainOnBatch(xs, ys);
      steps++;
    }
    return steps / ((performance.now() - start) / 1000);
  } finally {
    model.dispose();
    tf.dispose([xs, ys]);
  }
}

/**
 * Measures every size on every backend of `backends` that loads (`useFastestBackend` with that one
 * candidate); a backend that does not load is reported in `notes` and left out. Leaves `cpu` active.
 */
export async function measureBackendSpeeds(options: {
  backends?: BackendName[];
  sizes?: ModelSize[];
  rounds?: number;
  secondsPerCell?: number;
  notes?: string[];
}): Promise<SpeedTable> {
  const backends: BackendName[] = [];
  for (const backend of options.backends ?? ['tensorflow', 'wasm', 'cpu']) {
    try {
      await useFastestBackend({ candidates: [backend] });
      backends.push(backend);
    } catch (error) {
      options.notes?.push(`${backend}: not measured (${(error as Error).message.split('\n')[0]})`);
    }
  }
  const table: SpeedTable = new Map();
  for (const size of options.sizes ?? MODEL_SIZES) {
    const measured = backends.filter((b) => !(size.skip?.backends ?? []).includes(b));
    if (measured.length < backends.length) {
      options.notes?.push(`${size.name}: ${backends.filter((b) => !measured.includes(b)).join(', ')} not measured (${size.skip?.why})`);
    }
    const samples = new Map<BackendName, number[]>(measured.map((b) => [b, []]));
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      for (let k = 0; k < measured.length; k++) {
        const backend = measured[(k + round) % measured.length];
        await tf.setBackend(backend);
        samples.get(backend)?.push(await stepsPerSecond(size, options.secondsPerCell ?? 2));
      }
    }
    table.set(size.name, new Map([...samples].map(([b, s]) => [b, median(s)])));
  }
  await tf.setBackend('cpu');
  return table;
}

/** Bench rows: for each size, each backend's steps/s against `wasm` (the default without tfjs-node). */
export async function backendSpeedBenchmarks(options: { quick: boolean; notes: string[] }): Promise<BenchRow[]> {
  const table = await measureBackendSpeeds({
    notes: options.notes,
    rounds: options.quick ? 1 : 3,
    secondsPerCell: options.quick ? 0.5 : 2,
    sizes: options.quick ? MODEL_SIZES.slice(0, 2) : MODEL_SIZES,
  });
  const rows: BenchRow[] = [];
  for (const [size, speeds] of table) {
    const wasm = speeds.get('wasm');
    const fastest = [...speeds].reduce((a, b) => (b[1] > a[1] ? b : a));
    for (const [backend, rate] of speeds) {
      if (backend === 'wasm') continue;
      rows.push({
        name: `${size}: ${backend} steps/s`,
        measured: `${rate.toFixed(1)} steps/s`,
        baseline: wasm === undefined ? 'wasm not measured' : `wasm ${wasm.toFixed(1)} steps/s`,
        ratio: wasm === undefined ? 0 : rate / wasm,
        // Report only: which backend wins is the finding (useFastestBackend's order follows it).
        target: 'report',
        pass: true,
      });
    }
    options.notes.push(`${size}: fastest ${fastest[0]} (${[...speeds].map(([b, r]) => `${b} ${r.toFixed(1)}`).join(', ')} steps/s)`);
  }
  return rows;
}

if (require.main === module) runStandalone(backendSpeedBenchmarks);
