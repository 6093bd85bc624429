/**
 * `npm run bench`: every benchmark, each measured side by side against its baseline in this one process,
 * printed as one table and written to bench/RESULTS.md. Benchmarks report; they do not fail: the exit
 * code is 0 when targets are missed (misses read MISS), and 1 only when a benchmark could not run.
 *
 * `npm run bench -- --quick` (or `BENCH_QUICK=1`) is a smoke run with reduced sizes; its numbers are not
 * comparable, so it does not touch RESULTS.md.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BenchRow, markdownTable, printTable } from './bench_row';
import { backendSpeedBenchmarks } from './backend_speed';
import { checkpointBenchmarks } from './checkpoint_write';
import { fitOverhead6mBenchmarks } from './fit_overhead_6m';
import { writerDurabilityBenchmarks } from './writer_durability';
import { pipelineBenchmarks } from './data_pipeline';
import { trainingOverheadBenchmarks } from './training_overhead';

/** One benchmark file: what it measures, how, and how to run it at full or smoke size. */
interface Benchmark {
  title: string;
  /** One paragraph for RESULTS.md: what was measured and how. */
  method: string;
  run(quick: boolean, notes: string[]): Promise<BenchRow[]>;
}

// TensorFlow's INFO lines (CPU features, oneDNN) would land in the middle of the table; tfjs-node is loaded
// later (by useFastestBackend), after this, and TensorFlow reads the level when it loads.
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

const BENCHMARKS: Benchmark[] = [
  {
    title: 'Data pipeline (bench/data_pipeline.ts)',
    method:
      'Throughput of `data.*` pipelines against the same pipeline built with `tf.data` (same seed, same ' +
      'elements), each drained to the end, alternating ours/theirs 3 times, medians; the ratio is tf.data ' +
      'time / our time (target ≥ 1.0x, i.e. checkpointability costs no throughput). Then the encoded ' +
      'state size of `shuffle(10000)` over 1 KiB array elements once the buffer is full (saved as source ' +
      'indices + RNG state, against what materialising the buffer would take; target ≤ 64 KiB), the ' +
      'median `saveState()` time of that pipeline over 50 calls (target ≤ 5 ms), and resuming a ' +
      '10,000,000-line text file at line 9,000,000 by byte offset against replaying it with `skip` ' +
      '(target ≥ 100x). Runs on the `cpu` backend (pure JS data work; no kernels involved).',
    run: (quick) => pipelineBenchmarks({ scale: quick ? 0.02 : 1 }),
  },
  {
    title: 'Checkpoint write and restore (bench/checkpoint_write.ts)',
    method:
      'For a 50 MB and a 400 MB model (one dense layer 2048→n, float32 weights, no optimizer; sizes by ' +
      '`BENCH_WRITE_SIZES_MB`): a save through the `CheckpointWriter` — snapshot on the training thread, then ' +
      'in its worker thread checksums, atomic temp-file + fsync + rename + directory fsync, index update — timed ' +
      'until the worker reports it durable, against the least a durable save can cost: one `fs.writeFile` of the ' +
      'same number of (already touched) bytes plus an fsync; then `restoreLatest` of that checkpoint (read, verify ' +
      'every CRC-32, set the weights) against `fs.readFile` of the raw file. Interleaved in one process (every ' +
      'other round the baseline of each pair goes first), one ' +
      'untimed warm-up, median of 5 (`BENCH_WRITE_RUNS`); ratios are our MB/s / raw MB/s (targets: write ≥ 0.5x, ' +
      'restore ≥ 0.8x). Retention is kept out of the timed region. Runs on the `cpu` backend.',
    run: (quick) => checkpointBenchmarks({ quick }),
  },
  {
    title: 'Snapshot → durable while training (bench/writer_durability.ts)',
    method:
      '`fitDataset` on wasm with a `CheckpointSaverHook` (background writer) for the demo model (784-64-10, ' +
      'Adam, saveSteps 20, 300 steps) and a 5.8M-parameter MLP (784-2048-2048-10, Adam, ~67 MB checkpoint, ' +
      'saveSteps 2, 16 steps). A saver listener marks each trigger (before the snapshot); a hook after the saver ' +
      'marks when the training thread is free again (training-thread ms per save); a probe thread watches the ' +
      'index with `fs.watch` and marks when it names the step, after an fsync of the directory. The baseline ' +
      'runs the same training without the saver and, at the same steps, has a probe thread `fs.writeFile` + fsync ' +
      'a buffer of the checkpoint\'s size: raw durable latency under the same load. Writer and raw runs alternate, ' +
      '2 rounds (`BENCH_DURABLE_ROUNDS`), one untimed warm-up; the ratio is the writer\'s p50 / raw p50. Saves ' +
      'after step 1 are timed; saves replaced while waiting are counted.',
    run: (quick, notes) => writerDurabilityBenchmarks({ quick, notes }),
  },
  {
    title: 'Fit overhead on the 5.8M-parameter MLP (bench/fit_overhead_6m.ts)',
    method:
      '`fitDataset` of the 5.8M-parameter MLP on wasm, 21 steps (`BENCH_FIT_6M_STEPS`; saves at 11 and 21), with ' +
      '`CheckpointInputPipelineHook` + `CheckpointSaverHook` every 10 steps against plain `fitDataset`, 3 paired ' +
      'rounds (`BENCH_FIT_6M_ROUNDS`, order swapped each round), same seeded weights and data; ratio = median of ' +
      'the per-round steady-rate ratios (end of step 1 to end of the last step), spread printed. Final weights of ' +
      'every run are asserted bit-equal to the plain run (the benchmark fails otherwise).',
    run: (quick, notes) => fitOverhead6mBenchmarks({ quick, notes }),
  },
  {
    title: 'Training overhead (bench/training_overhead.ts)',
    method:
      '`fitDataset` of an MLP (784→128→10, relu/softmax, Adam, categorical cross-entropy) on 2,000 real ' +
      'mnist digits (`examples/mnist_data.ts`, no download) fed by `data.tensorSlices({xs, ys})' +
      '.shuffle(1000, 42).batch(32)`, 5 epochs = 315 steps, on the fastest backend. Compared: the same ' +
      '`fitDataset` with `HookCallback([CheckpointInputPipelineHook({modelDir, config: {saveCheckpointsSteps: ' +
      '100}}), CheckpointSaverHook(modelDir, {saveSteps: 100})], {dataset})`, and `resumableFit(..., ' +
      '{saveSteps: 100})`, against plain `fitDataset` with no checkpointing. The three run in rotation (order ' +
      'shifted each round), each from the same seeded initial weights into a fresh temp modelDir, one untimed ' +
      'warm-up round then 9 timed rounds; each ratio is the median of the 9 per-round ratios against the ' +
      'plain run of the same round (paired, so load drifts cancel; the min-max spread is shown). "Steady" is ' +
      'measured from the end of step 1 to the end of the last step by a callback placed after the hooks, so it ' +
      'includes the periodic saves (steps 100, 200, 300) but not the one-off setup, first save and final save; ' +
      'the target is ≥ 0.98x plain. The whole-call row includes those one-off costs (the final save must be ' +
      'durable before fit returns) and reports them as fixed milliseconds. The CPU-time ratio (process ' +
      'user+system time over the steady span) is less sensitive to other processes on the machine (not immune: ' +
      'they share caches and cores) but does not see time spent waiting for fsync. Final weights of every run ' +
      'are compared bit for bit with the plain run (checkpointing must not change training). The last 3, ' +
      'untimed, hooks runs measure how long each hook method kept training waiting (awaited time, so an ' +
      'awaited fsync counts and a background write does not); the waited row compares the waiting inside the ' +
      'steady span to that span.',
    run: (quick, notes) => trainingOverheadBenchmarks(quick ? { epochs: 1, runs: 2, notes } : { notes }),
  },
  {
    title: 'Backend speed (bench/backend_speed.ts)',
    method:
      'Training steps/s (`model.trainOnBatch` on fixed seeded batches, Adam, categorical cross-entropy) of MLPs ' +
      'of three sizes (784-128-10 batch 32, 784-512-512-10 batch 64, 784-2048-2048-10 batch 128) on each backend ' +
      'that loads: `tensorflow` (@tensorflow/tfjs-node), `wasm`, `cpu`. Within each size the backends are rotated ' +
      '(order shifted each round), 2 untimed warm-up steps then 2 s of steps per cell, median of 3 rounds; the ratio ' +
      'is steps/s against `wasm`. A backend that does not load (tfjs-node not installed) is skipped with a note. ' +
      'The evidence for `useFastestBackend()`\'s order; the training-overhead rows above run on the backend it picks.',
    run: (quick, notes) => backendSpeedBenchmarks({ quick, notes }),
  },
];

/** Everything in RESULTS.md from this heading on is written by people and kept when the file is regenerated. */
const ANALYSIS_HEADING = '## Analysis (hand-written, kept when this file is regenerated)';

function packageVersion(name: string): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function environment(start: Date, loadBefore: number[], loadAfter: number[]): string[] {
  const cpus = os.cpus();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    `date: ${start.toISOString()}`,
    `machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB memory, ${os.platform()} ${os.release()}`,
    `node: ${process.version}`,
    `tfjs: @tensorflow/tfjs ${packageVersion('@tensorflow/tfjs')}, @tensorflow/tfjs-backend-wasm ${packageVersion('@tensorflow/tfjs-backend-wasm')}, @tensorflow/tfjs-node ${packageVersion('@tensorflow/tfjs-node')}`,
    `load average (1/5/15 min) at start: ${load(loadBefore)}, at end: ${load(loadAfter)} (${cpus.length} cores)`,
  ];
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const start = new Date();
  const loadBefore = os.loadavg();
  const rows: BenchRow[] = [];
  const sections: { benchmark: Benchmark; notes: string[]; seconds: number; error?: string }[] = [];
  for (const benchmark of BENCHMARKS) {
    // eslint-disable-next-line no-console
    console.log(`running: ${benchmark.title}${quick ? ' (quick)' : ''} ...`);
    const notes: string[] = [];
    const t = performance.now();
    try {
      rows.push(...(await benchmark.run(quick, notes)));
      notes.push(`backend at the end: ${tf.getBackend()}`);
      sections.push({ benchmark, notes, seconds: (performance.now() - t) / 1000 });
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      // eslint-disable-next-line no-console
      console.error(`${benchmark.title} failed:\n${message}`);
      sections.push({ benchmark, notes, seconds: (performance.now() - t) / 1000, error: message });
      process.exitCode = 1;
    }
  }
  const env = environment(start, loadBefore, os.loadavg());
  const misses = rows.filter((r) => !r.pass);

  // eslint-disable-next-line no-console
  const log = (s = ''): void => console.log(s);
  log();
  if (quick) log('QUICK smoke run: sizes reduced, numbers not comparable with RESULTS.md (not written).');
  printTable(rows);
  log();
  for (const line of env) log(line);
  for (const s of sections) {
    for (const note of s.notes) log(`${s.benchmark.title}: ${note}`);
    if (s.error !== undefined) log(`${s.benchmark.title}: FAILED TO RUN (see above)`);
  }
  log(misses.length === 0 ? 'All targets met.' : `Missed targets (${misses.length}): ${misses.map((r) => r.name).join('; ')}`);

  if (!quick) {
    const file = path.join(__dirname, 'RESULTS.md');
    const previous = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const kept = previous.indexOf(ANALYSIS_HEADING);
    const analysis = kept >= 0 ? previous.slice(kept) : `${ANALYSIS_HEADING}\n\n(none yet)\n`;
    fs.writeFileSync(file, `${resultsMarkdown(rows, env, sections, misses)}\n${analysis}`);
    log(`written: ${path.relative(process.cwd(), file)}`);
  }
}

function resultsMarkdown(
  rows: BenchRow[],
  env: string[],
  sections: { benchmark: Benchmark; notes: string[]; seconds: number; error?: string }[],
  misses: BenchRow[],
): string {
  const out = [
    '# Benchmark results',
    '',
    'Generated by `npm run bench` (bench/run.ts), except the last section; re-run it rather than editing the ',
    'numbers. Every ratio compares two ',
    'things measured side by side, alternating, in the same process, so machine speed and load affect both.',
    '',
    markdownTable(rows),
    '',
    misses.length === 0 ? 'All targets met.' : `**Missed targets (${misses.length}):** ${misses.map((r) => r.name).join('; ')}.`,
    '',
    '## Environment',
    '',
    '```',
    ...env,
    '```',
    '',
    'The machine is shared: other jobs (test suites, type checks) were running during this run, so absolute ',
    'numbers are lower and noisier than on an idle machine (see the load average against the core count). ',
    'Ratios are measured by alternating the compared variants and taking medians, which cancels slow drifts but not fast fluctuations (see the analysis at the end).',
    '',
    '## What was measured',
    '',
  ];
  for (const s of sections) {
    out.push(`### ${s.benchmark.title}`, '', s.benchmark.method, '');
    out.push(`Took ${s.seconds.toFixed(0)} s.${s.error !== undefined ? ' **Failed to run:**' : ''}`, '');
    if (s.error !== undefined) out.push('```', s.error, '```', '');
    for (const note of s.notes) out.push(`- ${note}`);
    if (s.notes.length > 0) out.push('');
  }
  return out.join('\n');
}

main().catch((error: unknown) => {
  // eslint-disable-next-line no-console
  console.error(error);
  process.exitCode = 1;
});
