import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BlobCheckpointStore } from '../../src/checkpoint/blob_checkpoint_store';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { readModelCheckpoint } from '../../src/checkpoint/model_checkpoint';
import { PipelineMismatchError } from '../../src/data';
import { decodeDatasetState } from '../../src/data/state_codec';
import { inputCheckpointNames, unpackInputStates } from '../../src/checkpoint/input_checkpoint';
import { tempDir } from '../checkpoint/helpers';
import { checkStream, planKills, readStreamLog, runPool, runWorkerWithKills } from './cluster_harness';
import { type ShardPosition, TEST_JOB, idsOfBatch, uninterruptedStream, workerPipeline } from './worker_job';

/** Fixed by default so CI is reproducible; MULTI_WORKER_SEED=<n> explores other kill points. */
const SEED = Number(process.env.MULTI_WORKER_SEED ?? 20240611);
const WORKERS = 4;
const KILLS_PER_WORKER = 2;
const job = TEST_JOB;
const shard = (taskId: number): ShardPosition => ({ numShards: WORKERS, shardIndex: taskId });

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The input state stored in `input_worker_<taskId>.ckpt-<step>`. */
async function inputCheckpointState(modelDir: string, taskId: number, step: number): Promise<ReturnType<typeof decodeDatasetState>> {
  const names = inputCheckpointNames({ numWorkerReplicas: WORKERS, taskType: 'worker', taskId });
  const store = new BlobCheckpointStore(new LocalCheckpointStorage(modelDir), names);
  const [state] = unpackInputStates(await store.read(step), 1);
  return decodeDatasetState(state);
}

describe('4 sharded workers on one modelDir, SIGKILLed at random steps and restarted', () => {
  it('every worker trains exactly its uninterrupted stream; shards are disjoint and cover the data; each writes only its own files', async () => {
    const modelDir = tempDir('multi-worker');
    const logDir = tempDir('multi-worker-logs');
    const plan = planKills(SEED, WORKERS, job.totalSteps, KILLS_PER_WORKER, 40);
    console.log(`multi-worker seed ${SEED}: kills ${JSON.stringify(plan)}`);

    // At most 2 processes at a time (2 cores); each worker's kills and restarts run in its lane.
    const reports = await runPool(
      plan.map((kills, taskId) => () =>
        runWorkerWithKills({ modelDir, logFile: path.join(logDir, `worker_${taskId}.log`), workers: WORKERS, taskId, kills }),
      ),
      2,
    );

    const expected = await Promise.all(Array.from({ length: WORKERS }, (_, i) => uninterruptedStream(job, shard(i), job.totalSteps + 1)));
    const summary: string[] = [];
    for (const report of reports) {
      const i = report.taskId;
      const check = checkStream(readStreamLog(path.join(logDir, `worker_${i}.log`)), expected[i].slice(0, job.totalSteps), `worker ${i}`);
      expect(check.stream).toEqual(expected[i].slice(0, job.totalSteps));
      summary.push(
        `worker ${i}: ${report.killsDelivered.length} kills (${report.killsDelivered.map((k) => `step ${k.afterStep}+${k.delayMs}ms`).join(', ')}), ` +
          `${report.launches} launches, ${report.lockRetries} lock retries, ${check.reconsumedSteps} steps re-trained`,
      );
    }
    console.log(summary.join('\n'));
    // The seeded plan kills every worker before its last step: if no kill landed, nothing was tested.
    expect(reports.reduce((n, r) => n + r.killsDelivered.length, 0)).toBeGreaterThanOrEqual(WORKERS);

    // Shards: every epoch of worker i (12 ids = 4 batches) is exactly its shard {id : id % 4 == i}, so
    // the 4 streams are disjoint and together cover ids 0..47 once per epoch.
    const perShard = job.numElements / WORKERS;
    const allFirstEpochs: number[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const ids = expected[i].slice(0, job.totalSteps).flat();
      const shardIds = Array.from({ length: perShard }, (_, k) => i + k * WORKERS);
      const epochs = Array.from({ length: ids.length / perShard }, (_, e) => ids.slice(e * perShard, (e + 1) * perShard));
      for (const epoch of epochs) expect([...epoch].sort((a, b) => a - b)).toEqual(shardIds);
      // Reshuffled each epoch (the dataset-level RNG survived the restarts too).
      expect(new Set(epochs.map((e) => JSON.stringify(e))).size).toBe(epochs.length);
      allFirstEpochs.push(...epochs[0]);
    }
    expect(allFirstEpochs.sort((a, b) => a - b)).toEqual(Array.from({ length: job.numElements }, (_, k) => k));

    // Files: the model index and checkpoints, and per worker its own input index and blobs — nothing else.
    const files = fs.readdirSync(modelDir).filter((f) => !f.startsWith('.'));
    const unexpected = files.filter((f) => !/^(checkpoint|model\.ckpt-\d+|checkpoint_input_worker_[0-3]|input_worker_[0-3]\.ckpt-\d+)$/.test(f));
    expect(unexpected).toEqual([]);
    for (let i = 0; i < WORKERS; i++) {
      const steps = files
        .filter((f) => f.startsWith(`input_worker_${i}.ckpt-`))
        .map((f) => Number(f.slice(`input_worker_${i}.ckpt-`.length)))
        .sort((a, b) => a - b);
      expect(steps[steps.length - 1]).toBe(job.totalSteps);
      // Retention: keepCheckpointMax for a non-chief; the chief's retention also keeps the input checkpoint
      // of its newest model checkpoint (model writes lag behind in the background), so it may keep more.
      // Counted in the index: a kill between a blob write and its index update leaves an unlisted blob.
      const names = inputCheckpointNames({ numWorkerReplicas: WORKERS, taskType: 'worker', taskId: i });
      const listed = await new BlobCheckpointStore(new LocalCheckpointStorage(modelDir), names).steps();
      expect(listed[listed.length - 1]).toBe(job.totalSteps);
      if (i !== 0) expect(listed.length).toBeLessThanOrEqual(job.keepCheckpointMax);
      // Worker i's input checkpoints hold worker i's pipeline (the fingerprint names shard(4, i)) ...
      for (const step of steps) {
        const other = workerPipeline(job, shard((i + 1) % WORKERS));
        const state = await inputCheckpointState(modelDir, i, step);
        expect(() => other.restoreState(state)).toThrow(PipelineMismatchError);
        workerPipeline(job, shard(i)).restoreState(state);
      }
      // ... and its last one continues its stream: the next batch is step totalSteps + 1 of the uninterrupted run.
      const resumed = workerPipeline(job, shard(i));
      resumed.restoreState(await inputCheckpointState(modelDir, i, job.totalSteps));
      const next = await (await resumed.iterator()).next();
      expect(idsOfBatch(next.value)).toEqual(expected[i][job.totalSteps]);
      tf.dispose(next.value);
    }

    // Model checkpoints: the RecordBatchIds weight inside model.ckpt-<s> is the batch trained at step s.
    // Shards are disjoint, so it names the worker that wrote it: always the chief, worker 0.
    const modelSteps = files.filter((f) => f.startsWith('model.ckpt-')).map((f) => Number(f.slice('model.ckpt-'.length)));
    expect(Math.max(...modelSteps)).toBe(job.totalSteps);
    const storage = new LocalCheckpointStorage(modelDir);
    for (const step of modelSteps) {
      const ckpt = await readModelCheckpoint(storage, `model.ckpt-${step}`, step);
      const ids = ckpt.weights.find((w) => w.name.endsWith('/ids'));
      expect(ids === undefined ? null : Array.from(ids.data)).toEqual(expected[0][step - 1]);
    }
  }, 120000);
});
