/**
 * Snapshot → durable latency of the checkpoint writer while training on wasm, against the raw write + fsync
 * of the same number of bytes under the same training load, and the training thread's time per save.
 *
 * Writer runs: `fitDataset` with a `CheckpointSaverHook` (saveSteps, background writer). A listener marks
 * when each save is triggered (before the snapshot); a hook after the saver marks when `afterRun` handed the
 * snapshot over (training-thread ms per save); a probe thread (bench/durability_probe_worker.ts) watches the
 * index and marks when it names the step, after an fsync of the directory. Raw runs: the same training with
 * no saver; at the same steps the training thread asks a probe thread to `fs.writeFile` + fsync a buffer of
 * the checkpoint's size. Writer and raw runs alternate (order swapped each round); saves the writer replaced
 * while they waited (a newer snapshot arrived first) are counted, not timed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tf from '@tensorflow/tfjs';
import { useFastestBackend } from '../src/backend';
import type { CheckpointLogger } from '../src/checkpoint/logger';
import { CheckpointSaverHook } from '../src/hooks/checkpoint_saver_hook';
import { CheckpointSaverListener } from '../src/hooks/checkpoint_saver_listener';
import { HookCallback } from '../src/hooks/hook_callback';
import { type SessionRunContext, SessionRunHook } from '../src/hooks/session_run_hook';
import type { TrainingSession } from '../src/hooks/training_session';
import { loadDigits } from '../examples/mnist_data';
import { trainingDataset } from '../examples/mnist_model';
import { type BenchModel, DEMO_MODEL, SIX_M_MLP, envInt, percentile } from './bench_models';
import { type BenchRow, median, runStandalone } from './bench_row';
import type { FromProbe, ProbeSetup, ToProbe } from './durability_probe_worker';

const now = (): number => performance.timeOrigin + performance.now();

/** A fresh modelDir must produce no warning; one would mean the benchmark measures a recovery path. */
const failOnWarning: CheckpointLogger = {
  warn: (message: string) => {
    throw new Error(`unexpected checkpoint warning during the benchmark: ${message}`);
  },
};

/** Starts a probe thread (from TypeScript through tsx's require hook, as the library's own worker). */
async function startProbe(setup: ProbeSetup): Promise<Worker> {
  const script = path.join(__dirname, 'durability_probe_worker.ts');
  const worker = new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(script)});`, {
    eval: true,
    workerData: setup,
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: FromProbe) => (m.type === 'ready' ? resolve() : reject(new Error(`probe said ${m.type}`))));
    worker.once('error', reject);
  });
  return worker;
}

async function stopProbe(worker: Worker): Promise<Map<number, number>> {
  const report = new Promise<Map<number, number>>((resolve, reject) => {
    worker.on('message', (m: FromProbe) => {
      if (m.type === 'report') resolve(new Map(m.durableAt));
    });
    worker.once('error', reject);
  });
  worker.postMessage({ type: 'report' } satisfies ToProbe);
  const durableAt = await report;
  await worker.terminate();
  return durableAt;
}

/** What one run measured, per save step. */
interface RunTimes {
  triggeredAt: Map<number, number>;
  durableAt: Map<number, number>;
  /** Training-thread ms from the trigger to the end of the saver's `afterRun` (writer runs). */
  mainMs: Map<number, number>;
}

/** Marks the trigger of every save (before its snapshot). */
class TriggerMarks extends CheckpointSaverListener {
  constructor(private readonly triggeredAt: Map<number, number>) {
    super();
  }
  override beforeSave(_session: TrainingSession, step: number): void {
    this.triggeredAt.set(step, now());
  }
}

/** After the saver in the hook list: the training thread is free again for the step just saved. */
class HandedOver extends SessionRunHook {
  constructor(private readonly times: RunTimes) {
    super();
  }
  override afterRun(ctx: SessionRunContext): void {
    const step = ctx.session.globalStep;
    const triggered = this.times.triggeredAt.get(step);
    if (triggered !== undefined && !this.times.mainMs.has(step)) this.times.mainMs.set(step, now() - triggered);
  }
}

/** The raw variant's trigger: at each save step, asks the probe to write and fsync the same bytes. */
class RawTrigger extends SessionRunHook {
  constructor(
    private readonly probe: Worker,
    private readonly saveSteps: number,
    private readonly triggeredAt: Map<number, number>,
  ) {
    super();
  }
  override afterRun(ctx: SessionRunContext): void {
    const step = ctx.session.globalStep;
    // The saver's timer fires at step 1 and then every saveSteps steps after its last trigger.
    if (step <= 1 || (step - 1) % this.saveSteps !== 0) return;
    this.triggeredAt.set(step, now());
    this.probe.postMessage({ type: 'write', step } satisfies ToProbe);
  }
}

async function trainRun(
  model: BenchModel,
  variant: 'writer' | 'raw',
  options: { steps: number; saveSteps: number; rawBytes: number },
): Promise<RunTimes & { checkpointBytes: number }> {
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-bench-durable-'));
  const built = model.build();
  const dataset = trainingDataset(loadDigits({ trainCount: 32 * options.steps, testCount: 0 }).train);
  const times: RunTimes = { triggeredAt: new Map(), durableAt: new Map(), mainMs: new Map() };
  try {
    const probe = await startProbe(variant === 'writer' ? { mode: 'watch', dir: modelDir } : { mode: 'raw', dir: modelDir, bytes: options.rawBytes });
    const hooks =
      variant === 'writer'
        ? [
            new CheckpointSaverHook(modelDir, {
              saveSteps: options.saveSteps,
              keepCheckpointMax: 2,
              listeners: [new TriggerMarks(times.triggeredAt)],
              logger: failOnWarning,
            }),
            new HandedOver(times),
          ]
        : [new RawTrigger(probe, options.saveSteps, times.triggeredAt)];
    const callback = new HookCallback(hooks);
    try {
      await built.fitDataset(dataset, { epochs: 1, verbose: 0, callbacks: [callback] });
    } finally {
      await callback.dispose();
    }
    for (const [step, at] of await stopProbe(probe)) times.durableAt.set(step, at);
    let checkpointBytes = 0;
    const latest = [...times.durableAt.keys()].sort((a, b) => b - a)[0];
    if (variant === 'writer' && latest !== undefined) {
      const dir = path.join(modelDir, `model.ckpt-${latest}`);
      for (const f of fs.readdirSync(dir)) checkpointBytes += fs.statSync(path.join(dir, f)).size;
    }
    return { ...times, checkpointBytes };
  } finally {
    built.dispose();
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
}

/** Per-save latencies of the periodic saves (not step 1's, which also starts the worker, nor `end`'s). */
function latencies(times: RunTimes, variant: 'writer' | 'raw'): { durable: number[]; main: number[]; missing: number } {
  const durable: number[] = [];
  const main: number[] = [];
  let missing = 0;
  for (const [step, triggered] of times.triggeredAt) {
    // `end`'s save has no afterRun after it: it is the final drain, not a save during training.
    if (step <= 1 || (variant === 'writer' && !times.mainMs.has(step))) continue;
    const at = times.durableAt.get(step);
    if (at === undefined) missing++;
    else durable.push(at - triggered);
    const ms = times.mainMs.get(step);
    if (ms !== undefined) main.push(ms);
  }
  return { durable, main, missing };
}

const fmt = (ms: number): string => (ms < 10 ? ms.toFixed(1) : ms.toFixed(0));

/** Bench rows for one model: durable p50 / p99 against raw, training-thread ms per save. */
async function modelRows(
  model: BenchModel,
  options: { steps: number; saveSteps: number; rounds: number; target: { ms?: number; ratio?: number; mainMs?: number } },
  notes: string[],
): Promise<BenchRow[]> {
  // Untimed warm-up writer run: compiles the kernels and tells how big a checkpoint is.
  const warm = await trainRun(model, 'writer', { ...options, steps: Math.min(options.steps, 4), rawBytes: 0 });
  const bytes = warm.checkpointBytes;
  const writer = { durable: [] as number[], main: [] as number[], missing: 0 };
  const raw = { durable: [] as number[], missing: 0 };
  const pairs: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const order: Array<'writer' | 'raw'> = round % 2 === 0 ? ['writer', 'raw'] : ['raw', 'writer'];
    const medians = new Map<string, number>();
    for (const variant of order) {
      const run = latencies(await trainRun(model, variant, { ...options, rawBytes: bytes }), variant);
      if (variant === 'writer') {
        writer.durable.push(...run.durable);
        writer.main.push(...run.main);
        writer.missing += run.missing;
      } else {
        raw.durable.push(...run.durable);
        raw.missing += run.missing;
      }
      if (run.durable.length > 0) medians.set(variant, median(run.durable));
    }
    const w = medians.get('writer');
    const r = medians.get('raw');
    if (w !== undefined && r !== undefined) pairs.push(w / r);
  }
  if (writer.durable.length === 0 || raw.durable.length === 0) throw new Error(`${model.name}: no save became durable`);
  const mb = (bytes / 1024 / 1024).toFixed(1);
  const p50 = median(writer.durable);
  const rawP50 = median(raw.durable);
  const ratio = p50 / rawP50;
  const setup = `saveSteps ${options.saveSteps}, ${options.steps} steps x ${options.rounds} rounds`;
  const rows: BenchRow[] = [];
  const ratioTarget = options.target.ratio;
  const msTarget = options.target.ms;
  rows.push({
    name: `snapshot -> durable, ${model.name}, ${mb} MB checkpoint (${setup})`,
    measured:
      `p50 ${fmt(p50)} ms, p99 ${fmt(percentile(writer.durable, 99))} ms (n ${writer.durable.length}` +
      `${writer.missing > 0 ? `, ${writer.missing} replaced` : ''}); per-round ratios ${Math.min(...pairs).toFixed(2)}-${Math.max(...pairs).toFixed(2)}`,
    baseline: `raw writeFile+fsync of ${mb} MB in a thread: p50 ${fmt(rawP50)} ms, p99 ${fmt(percentile(raw.durable, 99))} ms`,
    ratio,
    target: ratioTarget !== undefined ? `p50 <= ${ratioTarget}x raw` : `p50 <= ${msTarget} ms`,
    pass: ratioTarget !== undefined ? ratio <= ratioTarget : p50 <= (msTarget ?? Infinity),
  });
  const mainP50 = median(writer.main);
  rows.push({
    name: `training-thread time per save, ${model.name}`,
    measured: `p50 ${fmt(mainP50)} ms, p99 ${fmt(percentile(writer.main, 99))} ms (snapshot + hand-over)`,
    baseline: `snapshot -> durable p50 ${fmt(p50)} ms`,
    ratio: mainP50 / p50,
    target: options.target.mainMs !== undefined ? `p50, p99 <= ${options.target.mainMs} ms` : 'report',
    pass: options.target.mainMs === undefined || percentile(writer.main, 99) <= options.target.mainMs,
  });
  notes.push(
    `${model.name}: ${writer.durable.length} writer saves timed, ${raw.durable.length} raw writes; ` +
      `writer p50 ${fmt(p50)} ms vs raw ${fmt(rawP50)} ms; training thread p50 ${fmt(mainP50)} ms`,
  );
  return rows;
}

/**
 * Every row: the demo model (target p50 <= 50 ms, training thread <= 5 ms) and the 5.8M-param MLP
 * (target p50 <= 1.5x raw). Sizes by env: BENCH_DURABLE_ROUNDS, BENCH_DURABLE_DEMO_STEPS,
 * BENCH_DURABLE_6M_STEPS, BENCH_DURABLE_6M_SAVE_STEPS.
 */
export async function writerDurabilityBenchmarks(options: { quick: boolean; notes: string[] }): Promise<BenchRow[]> {
  await useFastestBackend({ candidates: ['wasm'] });
  const rounds = envInt('BENCH_DURABLE_ROUNDS', options.quick ? 1 : 2);
  const rows = await modelRows(
    DEMO_MODEL,
    { steps: envInt('BENCH_DURABLE_DEMO_STEPS', options.quick ? 60 : 300), saveSteps: 20, rounds, target: { ms: 50, mainMs: 5 } },
    options.notes,
  );
  rows.push(
    ...(await modelRows(
      SIX_M_MLP,
      {
        steps: envInt('BENCH_DURABLE_6M_STEPS', options.quick ? 8 : 16),
        saveSteps: envInt('BENCH_DURABLE_6M_SAVE_STEPS', 2),
        rounds,
        target: { ratio: 1.5 },
      },
      options.notes,
    )),
  );
  options.notes.push(`backend: ${tf.getBackend()}`);
  return rows;
}

if (require.main === module) runStandalone(writerDurabilityBenchmarks);
