/**
 * A bench-only worker thread that observes durability from outside the training thread (whose event loop
 * tfjs compute blocks, so it cannot time anything that finishes while a step runs). Two modes:
 * - `watch`: follows modelDir with `fs.watch`; when the index file names a new latest step, fsyncs the
 *   directory itself (returning when the rename that made it latest is on disk, whoever's fsync flushed it)
 *   and records that time for the step.
 * - `raw`: the baseline. On each `write` message it writes `bytes` bytes from one preallocated buffer with
 *   `fs.promises.writeFile` and fsyncs them, one after the other, recording when each is durable.
 * Times are `performance.timeOrigin + performance.now()` (epoch ms, comparable across threads).
 */
import * as fs from 'fs';
import * as path from 'path';
import { parentPort, workerData } from 'worker_threads';
import { modelSeries } from '../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../src/checkpoint/local_storage';

/** What the probe is started with. */
export type ProbeSetup = { mode: 'watch'; dir: string } | { mode: 'raw'; dir: string; bytes: number };

/** Training thread → probe. */
export type ToProbe = { type: 'write'; step: number } | { type: 'report' };

/** Probe → training thread: `ready` once watching / allocated, `report` with step → durable time. */
export type FromProbe = { type: 'ready' } | { type: 'report'; durableAt: Array<[number, number]> };

const now = (): number => performance.timeOrigin + performance.now();

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const port = parentPort;
if (port === null) throw new Error('durability_probe_worker must run as a worker thread.');
const setup = workerData as ProbeSetup;
const durableAt = new Map<number, number>();
let work: Promise<void> = Promise.resolve();
const serially = (task: () => Promise<void>): void => {
  work = work.then(task).catch((e: unknown) => {
    // A failed probe must not pass for a slow one: crash the thread, the bench reports it.
    setImmediate(() => {
      throw e;
    });
  });
};

if (setup.mode === 'watch') {
  const storage = new LocalCheckpointStorage(setup.dir, { readOnly: true });
  const series = modelSeries(storage);
  let latest = -1;
  const look = async (): Promise<void> => {
    const step = await series.latestStep();
    if (step === null || step <= latest) return;
    latest = step;
    await syncDirectory(setup.dir);
    durableAt.set(step, now());
  };
  fs.watch(setup.dir, () => serially(look));
} else {
  const payload = Buffer.alloc(setup.bytes, 0x5a);
  let previous: string | undefined;
  port.on('message', (message: ToProbe) => {
    if (message.type !== 'write') return;
    serially(async () => {
      const file = path.join(setup.dir, `raw-${message.step}.bin`);
      await fs.promises.writeFile(file, payload);
      const handle = await fs.promises.open(file, 'r+');
      await handle.sync();
      await handle.close();
      durableAt.set(message.step, now());
      if (previous !== undefined) await fs.promises.rm(previous, { force: true });
      previous = file;
    });
  });
}
port.on('message', (message: ToProbe) => {
  if (message.type === 'report') serially(async () => port.postMessage({ type: 'report', durableAt: [...durableAt] } satisfies FromProbe));
});
port.postMessage({ type: 'ready' } satisfies FromProbe);
