import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { data } from '../src';
import { useFastestBackend } from '../src/backend';
import type { CheckpointLogger } from '../src/checkpoint/logger';
import { resumableFit } from '../src/estimator/resumable_fit';
import { CheckpointInputPipelineHook } from '../src/hooks/checkpoint_input_pipeline_hook';
import { CheckpointSaverHook } from '../src/hooks/checkpoint_saver_hook';
import { HookCallback } from '../src/hooks/hook_callback';
import {
  type Coordinator,
  type SessionRunArgs,
  type SessionRunContext,
  SessionRunHook,
  type SessionRunValues,
} from '../src/hooks/session_run_hook';
import type { TrainingSession } from '../src/hooks/training_session';
import { IMAGE_SIZE, NUM_CLASSES, loadDigits } from '../examples/mnist_data';
import { BenchRow, median, runStandalone } from './bench_row';
import { weightBytes } from './bench_models';

/** Sizes of the training benchmark; the defaults are what RESULTS.md reports. */
export interface TrainingOverheadOptions {
  /** Training digits (real mnist, deterministic). Default 2,000 (63 batches of 32 per epoch). */
  trainCount?: number;
  /** Epochs per run. Default 5 (315 steps). */
  epochs?: number;
  /** Timed runs of each variant, after one untimed warm-up round. Default 9: more short runs beat fewer long ones on a busy machine. */
  runs?: number;
  /** Receives human-readable findings (backend, where the hooks spend their time). */
  notes?: string[];
}

const BATCH = 32;
const SHUFFLE_BUFFER = 1000;
const SHUFFLE_SEED = 42;
const SAVE_STEPS = 100;
const TARGET = 0.98;
/** Extra hooks runs with every hook method timed, after the timed rounds. */
const PROFILED_RUNS = 3;

/** The ways to train that are compared; all see the same data, in the same order, from the same weights. */
type Variant = 'plain' | 'hooks' | 'resumableFit';

/** A fresh modelDir must produce no warning; one would mean the benchmark measures a recovery path. */
const failOnWarning: CheckpointLogger = {
  warn: (message: string) => {
    throw new Error(`unexpected checkpoint warning during the benchmark: ${message}`);
  },
};

function mlp(): tf.LayersModel {
  // Seeded initializers: every run starts from the same weights, so every variant does the same arithmetic.
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ inputShape: [IMAGE_SIZE], units: 128, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
  );
  model.add(
    tf.layers.dense({ units: NUM_CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  );
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
  return model;
}

/** Wall-clock milliseconds each hook method kept the training loop waiting, summed per `hook.method`. */
type HookTimes = Map<string, number>;

/**
 * Runs another hook and adds up how long each of its methods kept training waiting (awaited time, so
 * fsyncs inside an awaited save count, background writes do not).
 */
class TimedHook extends SessionRunHook {
  constructor(
    private readonly inner: SessionRunHook,
    private readonly times: HookTimes,
  ) {
    super();
  }
  private async timed<T>(method: string, run: () => T | Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      const key = `${this.inner.constructor.name}.${method}`;
      this.times.set(key, (this.times.get(key) ?? 0) + performance.now() - start);
    }
  }
  override begin(): Promise<void> {
    return this.timed('begin', () => this.inner.begin());
  }
  override afterCreateSession(session: TrainingSession, coord?: Coordinator): Promise<void> {
    return this.timed('afterCreateSession', () => this.inner.afterCreateSession(session, coord));
  }
  override beforeRun(ctx: SessionRunContext): Promise<SessionRunArgs | void> {
    return this.timed('beforeRun', () => this.inner.beforeRun(ctx));
  }
  override afterRun(ctx: SessionRunContext, values: SessionRunValues): Promise<void> {
    // Step 1 saves once per run (like setup), so it is kept apart from the periodic saves.
    return this.timed(ctx.session.globalStep === 1 ? 'afterRun@step1' : 'afterRun', () => this.inner.afterRun(ctx, values));
  }
  override end(session: TrainingSession): Promise<void> {
    return this.timed('end', () => this.inner.end(session));
  }
}

/** One training run's clocks. */
interface RunResult {
  /** The whole `fitDataset` / `resumableFit` call: setup, every step, the final save and its fsyncs. */
  wallSeconds: number;
  /** From the end of step 1 to the end of the last step: the steady training rate, saves included. */
  steadySeconds: number;
  /**
   * CPU time (user + system, all threads) of this process over the same span. Other processes on a busy
   * machine inflate wall time but hardly this; it misses time spent waiting for the disk, which
   * `steadySeconds` has.
   */
  steadyCpuSeconds: number;
  steps: number;
  weights: Buffer;
}

async function trainOnce(variant: Variant, xs: tf.Tensor2D, ys: tf.Tensor2D, epochs: number, times?: HookTimes): Promise<RunResult> {
  const model = mlp();
  const dataset = data.tensorSlices({ xs, ys }).shuffle(SHUFFLE_BUFFER, SHUFFLE_SEED).batch(BATCH);
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-bench-train-'));
  let steps = 0;
  let firstStepEnd = 0n;
  let lastStepEnd = 0n;
  let firstCpu = process.cpuUsage();
  let lastCpu = firstCpu;
  // Last in every callbacks list, so a step's clock stops after the checkpoint hooks handled it.
  const clock = new tf.CustomCallback({
    onBatchEnd: async () => {
      lastStepEnd = process.hrtime.bigint();
      lastCpu = process.cpuUsage();
      if (++steps === 1) {
        firstStepEnd = lastStepEnd;
        firstCpu = lastCpu;
      }
    },
  });
  const timed = (hook: SessionRunHook): SessionRunHook => (times === undefined ? hook : new TimedHook(hook, times));
  try {
    const start = process.hrtime.bigint();
    if (variant === 'plain') {
      await model.fitDataset(dataset, { epochs, verbose: 0, callbacks: [clock] });
    } else if (variant === 'hooks') {
      // The input hook goes first: its save for a step is on disk before that step's model checkpoint.
      const hooks = new HookCallback(
        [
          timed(new CheckpointInputPipelineHook({ modelDir, config: { saveCheckpointsSteps: SAVE_STEPS } }, { logger: failOnWarning })),
          timed(new CheckpointSaverHook(modelDir, { saveSteps: SAVE_STEPS, logger: failOnWarning })),
        ],
        { dataset },
      );
      try {
        await model.fitDataset(dataset, { epochs, verbose: 0, callbacks: [hooks, clock] });
      } finally {
        await hooks.dispose();
      }
    } else {
      const result = await resumableFit(
        model,
        dataset,
        { epochs, verbose: 0, callbacks: [clock] },
        { modelDir, saveSteps: SAVE_STEPS, logger: failOnWarning },
      );
      if (!result.completed || result.restoredFrom !== null) throw new Error('resumableFit did not do a fresh, complete run');
    }
    const end = process.hrtime.bigint();
    return {
      wallSeconds: Number(end - start) / 1e9,
      steadySeconds: Number(lastStepEnd - firstStepEnd) / 1e9,
      steadyCpuSeconds: (lastCpu.user - firstCpu.user + lastCpu.system - firstCpu.system) / 1e6,
      steps,
      weights: weightBytes(model),
    };
  } finally {
    model.dispose();
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
}

/**
 * Training throughput with checkpointing against the same `fitDataset` without it: an MLP (784→128→10,
 * relu/softmax, Adam) on 2,000 real mnist digits, `data.tensorSlices({xs, ys}).shuffle(1000, 42).batch(32)`,
 * 5 epochs (315 steps), on the fastest backend. The variants run in rotation in this one process (the
 * order shifts each round so none always runs first), each from the same seeded weights into a fresh temp
 * modelDir; medians of `runs` are reported, after an untimed warm-up round.
 *
 * Two rates per variant: steady (end of step 1 to end of the last step: periodic saves included, the
 * one-off start and final save not) with the 0.98× target, and whole-call wall time, whose difference is
 * the fixed cost of opening the modelDir, the first save and waiting for the final save to be durable.
 * Checkpointing must not change what is trained: every variant's final weights are compared bit for bit
 * with the plain run's. A last, untimed run of the hooks variant measures how long each hook method
 * kept training waiting.
 */
export async function trainingOverheadBenchmarks(options: TrainingOverheadOptions = {}): Promise<BenchRow[]> {
  const trainCount = options.trainCount ?? 2000;
  const epochs = options.epochs ?? 5;
  const runs = options.runs ?? 9;
  const notes = options.notes ?? [];
  const choice = await useFastestBackend();
  notes.push(
    `backend: ${choice.backend}` +
      (choice.skipped.length > 0 ? ` (skipped ${choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})` : ''),
  );
  const { train } = loadDigits({ trainCount, testCount: 0 });
  const xs = tf.tensor2d(train.images, [train.count, IMAGE_SIZE]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(train.labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D);
  const variants: Variant[] = ['plain', 'hooks', 'resumableFit'];
  const results = new Map<Variant, RunResult[]>(variants.map((v) => [v, []]));
  const profiles: { times: HookTimes; steadyMs: number }[] = [];
  let reference: Buffer | undefined;
  const weightsDiffer = new Set<Variant>();
  const check = (variant: Variant, result: RunResult): void => {
    if (variant === 'plain') reference ??= result.weights;
    if (reference !== undefined && !result.weights.equals(reference)) weightsDiffer.add(variant);
  };
  let steps = 0;
  try {
    for (let round = -1; round < runs; round++) {
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(k + Math.max(round, 0)) % variants.length];
        const result = await trainOnce(variant, xs, ys, epochs);
        check(variant, result);
        steps = result.steps;
        if (round >= 0) results.get(variant)?.push(result);
      }
    }
    for (let i = 0; i < PROFILED_RUNS; i++) {
      const times: HookTimes = new Map();
      const profiled = await trainOnce('hooks', xs, ys, epochs, times);
      check('hooks', profiled);
      profiles.push({ times, steadyMs: profiled.steadySeconds * 1000 });
    }
  } finally {
    xs.dispose();
    ys.dispose();
  }

  // Rate ratio of each round's run against the plain run of the same round, so slow drifts in the
  // machine's load cancel; the median of those is the reported ratio, the spread shows the noise.
  const paired = (v: Variant, seconds: (r: RunResult) => number): number[] =>
    (results.get(v) ?? []).map((r, round) => seconds((results.get('plain') ?? [])[round]) / seconds(r));
  const steady = (v: Variant): number => (steps - 1) / median((results.get(v) ?? []).map((r) => r.steadySeconds));
  const wall = (v: Variant): number => steps / median((results.get(v) ?? []).map((r) => r.wallSeconds));
  const wallMs = (v: Variant): number => median((results.get(v) ?? []).map((r) => r.wallSeconds)) * 1000;
  // Time outside the steady span (setup, step 1, teardown), beyond what plain fitDataset spends there.
  const outsideMs = (v: Variant): number => median((results.get(v) ?? []).map((r) => (r.wallSeconds - r.steadySeconds) * 1000));
  const setup = `${steps} steps, ${choice.backend}, median of ${runs}`;
  const rows: BenchRow[] = [];
  for (const [label, v] of [
    [`fitDataset + input & saver hooks every ${SAVE_STEPS} steps`, 'hooks'],
    [`resumableFit, saveSteps ${SAVE_STEPS}`, 'resumableFit'],
  ] as const) {
    const same = !weightsDiffer.has(v);
    const ratios = paired(v, (r) => r.steadySeconds);
    const ratio = median(ratios);
    const cpuRatio = median(paired(v, (r) => r.steadyCpuSeconds));
    rows.push({
      name: `${label}: steady steps/s (${setup})`,
      measured:
        `${steady(v).toFixed(0)} steps/s; paired ratios ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}, ` +
        `CPU-time ratio ${cpuRatio.toFixed(2)}` +
        (same ? '; same weights' : '; WEIGHTS DIFFER from the plain run'),
      baseline: `plain fitDataset ${steady('plain').toFixed(0)} steps/s`,
      ratio,
      target: `>= ${TARGET}x, same weights`,
      pass: ratio >= TARGET && same,
    });
    const fixedMs = outsideMs(v) - outsideMs('plain');
    rows.push({
      name: `${label}: whole call incl. first & final save`,
      measured: `${wall(v).toFixed(0)} steps/s (${wallMs(v).toFixed(0)} ms, ~${Math.max(fixedMs, 0).toFixed(0)} ms fixed)`,
      baseline: `plain fitDataset ${wall('plain').toFixed(0)} steps/s (${wallMs('plain').toFixed(0)} ms)`,
      ratio: median(paired(v, (r) => r.wallSeconds)),
      target: 'info: fixed cost per call',
      pass: same,
    });
  }
  // Waiting inside the steady span: every beforeRun/afterRun except step 1's (setup and end are outside it).
  const inSteadySpan = (key: string): boolean => /\.(beforeRun|afterRun)$/.test(key);
  const waited = profiles.map((p) => [...p.times].filter(([key]) => inSteadySpan(key)).reduce((sum, [, ms]) => sum + ms, 0));
  const shares = profiles.map((p, i) => 1 - waited[i] / p.steadyMs);
  const waitedMs = median(waited);
  const steadyMs = median(profiles.map((p) => p.steadyMs));
  rows.push({
    name: `fitDataset + input & saver hooks: time training waited on hooks in the steady span (median of ${PROFILED_RUNS} instrumented runs)`,
    measured: `${waitedMs.toFixed(0)} ms waited of ${steadyMs.toFixed(0)} ms`,
    baseline: 'no waiting',
    ratio: median(shares),
    target: `>= ${TARGET}x (<= ${((1 - TARGET) * 100).toFixed(0)}% waited)`,
    pass: median(shares) >= TARGET,
  });
  const keys = [...new Set(profiles.flatMap((p) => [...p.times.keys()]))];
  const breakdown = keys
    .map((key) => [key, median(profiles.map((p) => p.times.get(key) ?? 0))] as const)
    .filter(([, ms]) => ms >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([key, ms]) => `${key} ${ms.toFixed(0)} ms`);
  notes.push(
    `hook time that training waited for, per run of ${steps} steps (median of ${PROFILED_RUNS} instrumented hooks runs; ` +
      `plain run median ${wallMs('plain').toFixed(0)} ms): ${breakdown.length > 0 ? breakdown.join(', ') : 'none'}`,
  );
  return rows;
}

if (require.main === module) runStandalone(trainingOverheadBenchmarks);
