import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as data from '../src/data';
import { encodeElements } from '../src/data/element_codec';
import { BenchRow, median, runStandalone } from './bench_row';

type AnyDataset = tf.data.Dataset<tf.TensorContainer>;

async function consume(ds: AnyDataset): Promise<number> {
  const it = await ds.iterator();
  let n = 0;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    tf.dispose(r.value);
    n++;
  }
  return n;
}

/** Alternate ours and theirs `runs` times each; return median milliseconds of each. */
async function sideBySide(ours: () => AnyDataset, theirs: () => AnyDataset, runs: number): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    await consume(ours());
    a.push(performance.now() - t);
    t = performance.now();
    await consume(theirs());
    b.push(performance.now() - t);
  }
  return [median(a), median(b)];
}

function ratioRow(name: string, oursMs: number, theirsMs: number): BenchRow {
  const ratio = theirsMs / oursMs;
  return { name, measured: `${oursMs.toFixed(0)} ms`, baseline: `tf.data ${theirsMs.toFixed(0)} ms`, ratio, target: '>= 1.0x', pass: ratio >= 1.0 };
}

function kibObjects(n: number): { id: number; features: number[] }[] {
  // 128 float64 numbers = 1 KiB per element.
  return Array.from({ length: n }, (_, i) => ({ id: i, features: Array.from({ length: 128 }, (_, j) => (i * 131 + j) % 997) }));
}

/** Sizes of the pipeline benchmarks. */
export interface PipelineBenchmarkOptions {
  /**
   * Fraction of the full sizes (1e6 numbers, 1e5 objects, a 1e7-line file) to run, for a smoke run;
   * default 1, the sizes RESULTS.md reports. The state-size rows always use their full size (it is cheap).
   */
  scale?: number;
}

/** `n` written the way the row names write sizes: 1e6, 2.5e5. */
function count(n: number): string {
  return n.toExponential().replace('e+', 'e').replace(/\.0+e/, 'e');
}

/** Every data pipeline benchmark, measured side by side in this process. */
export async function pipelineBenchmarks(options: PipelineBenchmarkOptions = {}): Promise<BenchRow[]> {
  const scale = options.scale ?? 1;
  await tf.setBackend('cpu');
  const rows: BenchRow[] = [];

  const numberCount = Math.round(1_000_000 * scale);
  const numbers = Array.from({ length: numberCount }, (_, i) => i);
  const [oursRange, theirsNumbers] = await sideBySide(
    () => data.range(0, numberCount).map((x) => x * 2).shuffle(1000, 7).batch(64),
    () => tf.data.array(numbers).map((x) => x * 2).shuffle(1000, '7').batch(64),
    3,
  );
  rows.push(ratioRow(`throughput: ${count(numberCount)} numbers map/shuffle(1000)/batch(64)`, oursRange, theirsNumbers));

  const objectCount = Math.round(100_000 * scale);
  const objects = kibObjects(objectCount);
  const [oursObj, theirsObj] = await sideBySide(
    () => data.array(objects).shuffle(1000, 7).batch(64),
    () => tf.data.array(objects).shuffle(1000, '7').batch(64),
    3,
  );
  rows.push(ratioRow(`throughput: ${count(objectCount)} x 1 KiB objects shuffle(1000)/batch(64)`, oursObj, theirsObj));

  // State of shuffle(10000) over 1 KiB elements once the buffer is full.
  const big = data.array(kibObjects(20_000)).shuffle(10_000, 7);
  const it = await big.iterator();
  await it.next();
  const bytes = jsonBytes(big.saveState());
  const materialized = encodeElements(kibObjects(10_000)).byteLength;
  rows.push({
    name: 'state size (JSON): shuffle(10000) over 1 KiB elements',
    measured: `${(bytes / 1024).toFixed(1)} KiB`,
    baseline: `materialized ${(materialized / 1024).toFixed(0)} KiB`,
    ratio: materialized / bytes,
    target: '<= 64 KiB',
    pass: bytes <= 64 * 1024,
  });

  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    big.saveState();
    times.push(performance.now() - t);
  }
  const saveMs = median(times);
  rows.push({ name: 'saveState time: that pipeline', measured: `${saveMs.toFixed(3)} ms`, baseline: '-', ratio: 5 / saveMs, target: '<= 5 ms median', pass: saveMs <= 5 });

  rows.push(...(await prefetchAfterBatchRows()));
  rows.push(...(await bigShuffleRows()));
  rows.push(await textResumeRow(Math.round(10_000_000 * scale)));
  return rows;
}

/** JSON size of a state as a user persists it (`JSON.stringify`). */
function jsonBytes(state: data.DatasetState): number {
  return Buffer.byteLength(JSON.stringify(state));
}

/**
 * `prefetch(k)` after `batch(64)` over 784-float rows (MNIST-sized): the state saves the position the buffer was
 * filled from, not k batch tensors. Baseline: those k batches materialized (what format 1 stored).
 */
async function prefetchAfterBatchRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const xs = tf.tensor2d(Float32Array.from({ length: 8192 * 784 }, (_, i) => (i % 255) / 255), [8192, 784]);
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 8192 }, (_, i) => i % 10), 'int32'), 10);
  try {
    for (const k of [1, 64]) {
      const ds = data.tensorSlices({ xs, ys }).batch(64).prefetch(k);
      const it = ds.checkpointableIterator();
      tf.dispose((await it.next()).value);
      const bytes = jsonBytes(ds.saveState());
      const batches: tf.TensorContainer[] = await data.tensorSlices({ xs, ys }).batch(64).take(k).toArray();
      const materialized = encodeElements(batches).byteLength;
      tf.dispose(batches);
      it.dispose();
      rows.push({
        name: `state size: prefetch(${k}) after batch(64) of 784-float rows`,
        measured: `${(bytes / 1024).toFixed(2)} KiB`,
        baseline: `materialized ${(materialized / 1024).toFixed(0)} KiB`,
        ratio: materialized / bytes,
        target: '<= 1 KiB',
        pass: bytes <= 1024,
      });
    }
  } finally {
    tf.dispose([xs, ys]);
  }
  return rows;
}

/**
 * `shuffle(1e5)` over 1 KiB objects with a full buffer: save time, and the time from `restoreState` on a freshly
 * built pipeline to its first element (buffered keys are recomputed only when delivered).
 */
async function bigShuffleRows(): Promise<BenchRow[]> {
  const objects = kibObjects(110_000);
  const build = () => data.array(objects).shuffle(100_000, 7);
  const ds = build();
  const it = ds.checkpointableIterator();
  await it.next();
  const saveTimes: number[] = [];
  let state = ds.saveState();
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    state = ds.saveState();
    saveTimes.push(performance.now() - t);
  }
  const persisted = JSON.parse(JSON.stringify(state)) as data.DatasetState;
  const expected = JSON.stringify((await it.next()).value);
  const restoreTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const fresh = build();
    const t = performance.now();
    fresh.restoreState(persisted);
    const first = (await fresh.checkpointableIterator().next()).value;
    restoreTimes.push(performance.now() - t);
    if (JSON.stringify(first) !== expected) throw new Error('shuffle(1e5) restore delivered another element');
  }
  const saveMs = median(saveTimes);
  const restoreMs = median(restoreTimes);
  return [
    { name: 'saveState time: shuffle(1e5) over 1 KiB objects', measured: `${saveMs.toFixed(2)} ms`, baseline: 'issue 10: 6.1 ms', ratio: 5 / saveMs, target: '<= 5 ms median', pass: saveMs <= 5 },
    {
      name: 'restore to first element: that pipeline',
      measured: `${restoreMs.toFixed(1)} ms`,
      baseline: 'issue 10: 743 ms',
      ratio: 743 / restoreMs,
      target: '<= 50 ms median',
      pass: restoreMs <= 50,
    },
    {
      name: 'state size (JSON): that pipeline',
      measured: `${(jsonBytes(state) / 1024).toFixed(0)} KiB`,
      baseline: `materialized ${(encodeElements(objects.slice(0, 1000)).byteLength / 10.24).toFixed(0)} KiB`,
      ratio: (encodeElements(objects.slice(0, 1000)).byteLength * 100) / jsonBytes(state),
      target: '<= 6 bytes per buffered element',
      pass: jsonBytes(state) <= 6 * 100_000,
    },
  ];
}

/** Resume at 90% of a `lines`-line file (9,000,000 of 10,000,000) by byte offset vs replaying (skipping) from the start. */
async function textResumeRow(lines: number): Promise<BenchRow> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-bench-'));
  const file = path.join(dir, 'lines.txt');
  try {
    const width = 10; // "000001234\n"
    const fd = fs.openSync(file, 'w');
    const perChunk = 100_000;
    for (let start = 0; start < lines; start += perChunk) {
      let s = '';
      for (let i = start; i < Math.min(start + perChunk, lines); i++) s += String(i).padStart(width - 1, '0') + '\n';
      fs.writeSync(fd, s);
    }
    fs.closeSync(fd);
    const target = Math.round(lines * 0.9);

    const ds = data.textLines(file);
    await ds.iterator();
    const state = ds.saveState();
    state.iterator = { offset: target * width };
    const resumeTimes: number[] = [];
    let resumedLine = '';
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const fresh = data.textLines(file);
      fresh.restoreState(state);
      resumedLine = (await (await fresh.iterator()).next()).value as string;
      resumeTimes.push(performance.now() - t);
    }
    const t = performance.now();
    const replayed = (await (await data.textLines(file).skip(target).iterator()).next()).value as string;
    const replayMs = performance.now() - t;
    if (resumedLine !== replayed || Number(replayed) !== target) throw new Error(`resume read ${resumedLine}, replay read ${replayed}`);
    const resumeMs = median(resumeTimes);
    const ratio = replayMs / resumeMs;
    return {
      name: `restore at line ${count(target)} of a ${count(lines)}-line file`,
      measured: `${resumeMs.toFixed(2)} ms`,
      baseline: `replay ${replayMs.toFixed(0)} ms`,
      ratio,
      target: '>= 100x',
      pass: ratio >= 100,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) runStandalone(() => pipelineBenchmarks());
