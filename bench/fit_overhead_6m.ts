/**
 * Fit overhead of checkpointing on the 5.8M-parameter MLP: `fitDataset` with the input-pipeline hook and the
 * saver hook every 10 steps (one shared background writer each, as a user wires them) against the same
 * `fitDataset` without them. Paired, interleaved rounds (order swapped each round), each run from the same
 * seeded weights on the same seeded data into a fresh modelDir; the ratio is the median of the per-round
 * steady-rate ratios (end of step 1 to end of the last step, so the periodic saves are in, the one-off
 * start and final save are not), the spread is printed. Final weights of every hooks run must equal the
 * plain run's bit for bit: checkpointing may not change training (the benchmark throws if they differ).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useFastestBackend } from '../src/backend';
import type { CheckpointLogger } from '../src/checkpoint/logger';
import { CheckpointInputPipelineHook } from '../src/hooks/checkpoint_input_pipeline_hook';
import { CheckpointSaverHook } from '../src/hooks/checkpoint_saver_hook';
import { HookCallback } from '../src/hooks/hook_callback';
import { loadDigits } from '../examples/mnist_data';
import { trainingDataset } from '../examples/mnist_model';
import { SIX_M_MLP, envInt, weightBytes } from './bench_models';
import { type BenchRow, median, runStandalone } from './bench_row';

const SAVE_STEPS = 10;
const TARGET = 0.98;

const failOnWarning: CheckpointLogger = {
  warn: (message: string) => {
    throw new Error(`unexpected checkpoint warning during the benchmark: ${message}`);
  },
};

interface Run {
  steadySeconds: number;
  weights: Buffer;
}

async function trainOnce(withHooks: boolean, steps: number): Promise<Run> {
  const model = SIX_M_MLP.build();
  const dataset = trainingDataset(loadDigits({ trainCount: 32 * steps, testCount: 0 }).train);
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-bench-fit6m-'));
  let count = 0;
  let first = 0;
  let last = 0;
  // Last in the callbacks list: a step's clock stops after the checkpoint hooks handled it.
  const clock = new tf.CustomCallback({
    onBatchEnd: async () => {
      last = performance.now();
      if (++count === 1) first = last;
    },
  });
  try {
    if (withHooks) {
      const hooks = new HookCallback(
        [
          new CheckpointInputPipelineHook({ modelDir, config: { saveCheckpointsSteps: SAVE_STEPS } }, { logger: failOnWarning }),
          new CheckpointSaverHook(modelDir, { saveSteps: SAVE_STEPS, logger: failOnWarning }),
        ],
        { dataset },
      );
      try {
        await model.fitDataset(dataset, { epochs: 1, verbose: 0, callbacks: [hooks, clock] });
      } finally {
        await hooks.dispose();
      }
    } else {
      await model.fitDataset(dataset, { epochs: 1, verbose: 0, callbacks: [clock] });
    }
    if (count !== steps) throw new Error(`trained ${count} steps, expected ${steps}`);
    return { steadySeconds: (last - first) / 1000, weights: weightBytes(model) };
  } finally {
    model.dispose();
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
}

/** Rows for the 6M fit overhead; `BENCH_FIT_6M_STEPS` (default 21: saves at steps 11 and 21 inside the steady span) steps per run, `BENCH_FIT_6M_ROUNDS` (default 3) rounds. */
export async function fitOverhead6mBenchmarks(options: { quick: boolean; notes: string[] }): Promise<BenchRow[]> {
  await useFastestBackend({ candidates: ['wasm'] });
  const steps = envInt('BENCH_FIT_6M_STEPS', options.quick ? 11 : 21);
  const rounds = envInt('BENCH_FIT_6M_ROUNDS', options.quick ? 1 : 3);
  // No warm-up round: the durability benchmark before this one trained the same model on this backend.
  let reference: Buffer | undefined;
  const ratios: number[] = [];
  const plain: number[] = [];
  const hooked: number[] = [];
  let compared = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const seconds = new Map<boolean, number>();
    for (const withHooks of order) {
      const run = await trainOnce(withHooks, steps);
      if (!withHooks) reference ??= run.weights;
      if (reference !== undefined && !run.weights.equals(reference)) {
        throw new Error(`fit overhead, 6M MLP: the ${withHooks ? 'hooks' : 'plain'} run of round ${round} ended with other weights than the plain run`);
      }
      compared++;
      seconds.set(withHooks, run.steadySeconds);
    }
    plain.push(seconds.get(false) as number);
    hooked.push(seconds.get(true) as number);
    ratios.push((seconds.get(false) as number) / (seconds.get(true) as number));
  }
  const ratio = median(ratios);
  const rate = (s: number[]): string => ((steps - 1) / median(s)).toFixed(2);
  options.notes.push(`fit overhead, ${SIX_M_MLP.name}: final weights of ${compared} runs equal the plain run bit for bit; per-round ratios ${ratios.map((r) => r.toFixed(3)).join(', ')}`);
  return [
    {
      name: `fitDataset + input & saver hooks every ${SAVE_STEPS} steps, ${SIX_M_MLP.name}: steady steps/s (${steps} steps, wasm, ${rounds} paired rounds)`,
      measured: `${rate(hooked)} steps/s; paired ratios ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}; weights bit-equal`,
      baseline: `plain fitDataset ${rate(plain)} steps/s`,
      ratio,
      target: `>= ${TARGET}x, same weights`,
      pass: ratio >= TARGET,
    },
  ];
}

if (require.main === module) runStandalone(fitOverhead6mBenchmarks);
