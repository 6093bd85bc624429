import { BlobCheckpointStore } from './blob_checkpoint_store';
import { commitCheckpoint, modelSeries } from './checkpoint_manager';
import type { CheckpointMeta } from './model_checkpoint';
import type { ModelSnapshot } from './model_snapshot';
import type { CheckpointLogger } from './logger';
import type { SnapshotFill } from './snapshot_fill';
import type { CheckpointStorage } from './storage';

/** A model checkpoint to write: the snapshot of one step, as `writeCheckpoint` takes it. */
export interface ModelWriteJob {
  /** Discriminant. */
  kind: 'model';
  /** Weights and optimizer state of the step, in buffers owned by the job (transferred to the worker). */
  snapshot: ModelSnapshot;
  /** Step, epoch, fingerprint (resolved on the training thread) and extras. */
  meta: CheckpointMeta;
  /** Retention of the model series. */
  keepCheckpointMax: number;
  /**
   * Set when the job was posted before its snapshot was copied (`CheckpointWriter.submitSnapshot`): the
   * writer writes each chunk of the snapshot's buffers once the training thread has copied it.
   */
  fill?: SnapshotFill;
}

/** An input-pipeline checkpoint (one blob of a `BlobCheckpointStore` series) to write. */
export interface BlobWriteJob {
  /** Discriminant. */
  kind: 'blob';
  /** Index file of the series (`checkpoint_input...`). */
  indexName: string;
  /** Blob prefix of the series (`input.ckpt`...). */
  prefix: string;
  /** Retention of the series. */
  keepMax: number;
  /** Global step of the position. */
  step: number;
  /** The encoded pipeline states. */
  bytes: Uint8Array;
  /**
   * Keep every blob at or after the newest model checkpoint's step (read when the job runs): model
   * checkpoints may lag behind, and a resume is exact only if the input of the model's step exists.
   */
  protectNewestModelStep: boolean;
}

/** Everything the checkpoint writer writes. */
export type WriteJob = ModelWriteJob | BlobWriteJob;

/**
 * Jobs of one series replace each other while waiting (a newer snapshot makes an older waiting one
 * pointless); jobs of different series never do.
 */
export function seriesOf(job: WriteJob): string {
  return job.kind === 'model' ? 'model' : `blob:${job.indexName}`;
}

/** The step a job saves. */
export function stepOf(job: WriteJob): number {
  return job.kind === 'model' ? job.meta.globalStep : job.step;
}

/**
 * Buffers a job owns outright and that can be moved to the worker without a copy: the snapshot's tensor
 * buffers (one per `copyTensors` call) that are `ArrayBuffer`s (the pool's are shared, not moved) and the
 * blob's buffer when the view covers it whole. Extras are
 * small and may be views into Node's shared Buffer pool, so they are copied, never transferred.
 */
export function transferablesOf(job: WriteJob): ArrayBuffer[] {
  if (job.kind === 'model') return movableBuffers(snapshotBuffersOf(job));
  const whole = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength;
  return whole ? movableBuffers([job.bytes.buffer]) : [];
}

/**
 * The snapshot buffers of a model job, for reuse by the next snapshot once the job was written or replaced
 * (see `SnapshotBufferPool`: shared buffers, or moved ones); none for blob jobs, whose sizes vary.
 */
export function snapshotBuffersOf(job: WriteJob): ArrayBufferLike[] {
  if (job.kind !== 'model') return [];
  const tensors = [...job.snapshot.weights, ...(job.snapshot.optimizer?.weights ?? []), ...(job.snapshot.optimizer?.hidden ?? [])];
  return [...new Set(tensors.map((t) => t.data.buffer))];
}

/** Of some buffers, those a `postMessage` moves (`ArrayBuffer`s; shared ones are shared by the message itself). */
export function movableBuffers(buffers: readonly ArrayBufferLike[]): ArrayBuffer[] {
  return buffers.filter((buffer): buffer is ArrayBuffer => buffer instanceof ArrayBuffer);
}

/**
 * Writes one job with the library's own write code (`commitCheckpoint`, `BlobCheckpointStore.commit`), so
 * the worker and the training thread produce the same format and follow the same durability rules.
 * Resolves once the save is durable and latest, with its retention (reading and deleting older
 * checkpoints) still to run: the writer acknowledges the save first, then calls it. `logger` receives what
 * the series reports (retention, orphans, dropped index entries).
 */
export async function runWriteJob(storage: CheckpointStorage, job: WriteJob, logger: CheckpointLogger): Promise<() => Promise<void>> {
  if (job.kind === 'model') {
    const written = await commitCheckpoint(storage, job.snapshot, job.meta, { keepCheckpointMax: job.keepCheckpointMax, logger }, job.fill);
    return written.applyRetention;
  }
  const store = new BlobCheckpointStore(storage, { indexName: job.indexName, prefix: job.prefix, keepMax: job.keepMax, logger });
  const written = await store.commit(job.step, job.bytes, job.protectNewestModelStep ? () => newestModelStep(storage, logger) : undefined);
  return written.applyRetention;
}

/**
 * Step of the newest model checkpoint (the series' own rule: index, or a scan when the index is damaged),
 * so blob retention keeps the input checkpoint a resume from that model step needs.
 */
async function newestModelStep(storage: CheckpointStorage, logger: CheckpointLogger): Promise<number | undefined> {
  return (await modelSeries(storage, logger).latestStep()) ?? undefined;
}
