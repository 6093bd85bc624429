import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { restoreLatest } from '../src/checkpoint/checkpoint_manager';
import { CheckpointWriter } from '../src/checkpoint/checkpoint_writer';
import { writerFingerprint } from '../src/checkpoint/model_checkpoint';
import { snapshotModel } from '../src/checkpoint/model_snapshot';
import { envInt } from './bench_models';
import { type BenchRow, median, runStandalone } from './bench_row';

/** A model of about `mb` MB of float32 weights: one dense layer 2048 → n (uncompiled: weights only). */
function modelOfSize(mb: number): tf.LayersModel {
  const units = Math.max(1, Math.round((mb * 1024 * 1024) / 4 / 2049));
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [2048], units, kernelInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 1 }) }));
  return model;
}

/** The baseline: one `fs.writeFile` of the same bytes plus an fsync, the least a durable save can cost. */
async function rawWrite(file: string, bytes: Uint8Array): Promise<void> {
  await fs.promises.writeFile(file, bytes);
  const handle = await fs.promises.open(file, 'r+');
  await handle.sync();
  await handle.close();
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

function directoryBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

/** Runs `ours` and `raw` one after the other, `raw` first when `rawFirst`; their results in (ours, raw) order. */
async function pair<A, B>(ours: () => Promise<A>, raw: () => Promise<B>, rawFirst: boolean): Promise<[A, B]> {
  if (rawFirst) {
    const b = await raw();
    return [await ours(), b];
  }
  const a = await ours();
  return [a, await raw()];
}

/**
 * One size: `runs` timed rounds (after one untimed warm-up), each a raw write + fsync of the checkpoint's
 * byte count, a checkpoint save through the `CheckpointWriter` (snapshot on this thread, files written in
 * its worker; timed until it reports the save durable and indexed), a `restoreLatest` of that checkpoint
 * (read, verify every CRC, set the weights) and a raw `fs.readFile` of the raw file; every other round the raw
 * variant of each pair runs first. Medians.
 */
async function sizeRows(mb: number, runs: number): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-bench-write-'));
  const model = modelOfSize(mb);
  const writer = new CheckpointWriter(path.join(dir, 'model'));
  try {
    await writer.open();
    const ours: number[] = [];
    const snapshots: number[] = [];
    const raw: number[] = [];
    const restores: number[] = [];
    const reads: number[] = [];
    let bytes = 0;
    let payload = new Uint8Array(0);
    const rawFile = path.join(dir, 'raw.bin');
    for (let run = -1; run < runs; run++) {
      const step = run + 1;
      const ckpt = path.join(dir, 'model', `model.ckpt-${step}`);
      const save = async (): Promise<{ oursSecs: number; snapshotSecs: number }> => {
        const t = process.hrtime.bigint();
        const snapshot = await snapshotModel(model, writer.snapshotBuffers);
        const snapshotSecs = seconds(t);
        // The fingerprint is this thread's backend, as the saver hook records it (the worker has none).
        const meta = { globalStep: step, epoch: 0 };
        const result = await writer.submit({ kind: 'model', snapshot, meta: { ...meta, fingerprint: writerFingerprint(meta) }, keepCheckpointMax: 0 });
        const oursSecs = seconds(t);
        if (result !== 'written') throw new Error(`save of step ${step} was ${result}`);
        if (bytes === 0) {
          bytes = directoryBytes(ckpt);
          // Non-zero, already touched bytes: the baseline pays no page faults the checkpoint does not.
          payload = new Uint8Array(bytes).fill(0x5a);
        }
        return { oursSecs, snapshotSecs };
      };
      const writeRaw = async (): Promise<number> => {
        const t = process.hrtime.bigint();
        await rawWrite(rawFile, payload);
        return seconds(t);
      };
      const restore = async (): Promise<number> => {
        const t = process.hrtime.bigint();
        const restored = await restoreLatest(model, path.join(dir, 'model'));
        const secs = seconds(t);
        if (restored?.globalStep !== step) throw new Error(`restored ${JSON.stringify(restored?.globalStep)}, expected ${step}`);
        return secs;
      };
      const readRaw = async (): Promise<number> => {
        const t = process.hrtime.bigint();
        const read = await fs.promises.readFile(rawFile);
        const secs = seconds(t);
        if (read.byteLength !== bytes) throw new Error('raw read came back short');
        return secs;
      };
      // Every other round the baseline goes first: whichever runs first after a big free or allocation pays the
      // page faults of fresh memory (the first reads of a run took up to 5x longer than the next ones).
      const rawFirst = run >= 0 && run % 2 === 1;
      const [saved, rawSecs] = await pair(save, writeRaw, rawFirst);
      const [restoreSecs, readSecs] = await pair(restore, readRaw, rawFirst);
      fs.rmSync(rawFile);
      // Retention is kept out of the timed region (the baseline deletes nothing).
      fs.rmSync(ckpt, { recursive: true });
      if (run >= 0) {
        ours.push(saved.oursSecs);
        snapshots.push(saved.snapshotSecs);
        raw.push(rawSecs);
        restores.push(restoreSecs);
        reads.push(readSecs);
      }
    }
    const size = bytes / 1024 / 1024;
    const rate = (secs: number[]): number => size / median(secs);
    const ms = (secs: number[]): string => (median(secs) * 1000).toFixed(0);
    const writeRatio = rate(ours) / rate(raw);
    const readRatio = rate(restores) / rate(reads);
    const label = `${size.toFixed(0)} MB checkpoint (median of ${runs})`;
    return [
      {
        name: `checkpoint write, ${label}`,
        measured: `${rate(ours).toFixed(0)} MB/s (${ms(ours)} ms: snapshot ${ms(snapshots)} ms, then worker write until durable)`,
        baseline: `${rate(raw).toFixed(0)} MB/s (fs.writeFile + fsync, ${ms(raw)} ms)`,
        ratio: writeRatio,
        target: '>= 0.5x',
        pass: writeRatio >= 0.5,
      },
      {
        name: `restoreLatest, ${label}`,
        measured: `${rate(restores).toFixed(0)} MB/s (${ms(restores)} ms: read, verify CRCs, set weights)`,
        baseline: `${rate(reads).toFixed(0)} MB/s (fs.readFile, ${ms(reads)} ms)`,
        ratio: readRatio,
        target: '>= 0.8x',
        pass: readRatio >= 0.8,
      },
    ];
  } finally {
    await writer.close();
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Checkpoint write and restore throughput against raw `fs.writeFile` + fsync and `fs.readFile` of the same
 * bytes, interleaved in one process. Sizes in MB by `BENCH_WRITE_SIZES_MB` (default `50,400`), rounds by
 * `BENCH_WRITE_RUNS` (default 5).
 */
export async function checkpointBenchmarks(options: { quick?: boolean } = {}): Promise<BenchRow[]> {
  const sizes = (process.env.BENCH_WRITE_SIZES_MB ?? (options.quick ? '20' : '50,400')).split(',').map(Number);
  const runs = envInt('BENCH_WRITE_RUNS', options.quick ? 2 : 5);
  const rows: BenchRow[] = [];
  for (const mb of sizes) rows.push(...(await sizeRows(mb, runs)));
  return rows;
}

if (require.main === module) runStandalone(checkpointBenchmarks);
