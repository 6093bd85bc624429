/**
 * The checkpoint writer's worker thread: opens the storage from its description, then writes, fsyncs,
 * renames and commits indexes for the jobs the training thread posts, with the same code the training
 * thread would run (`runWriteJob`) and the same queue discipline (`WriteScheduler`). It runs while tfjs
 * blocks the training thread's event loop, so a snapshot is durable within milliseconds.
 */
import { workerData } from 'worker_threads';
import { blockingFsLayer } from './blocking_fs_layer';
import type { CheckpointLogger } from './logger';
import { closeStorage, openStorage } from './open_storage';
import { movableBuffers, runWriteJob, snapshotBuffersOf } from './write_job';
import { WriteScheduler, handleRetentionFailure } from './write_scheduler';
import { type FromWriterWorker, type ToWriterWorker, type WriterWorkerData, cloneError } from './writer_messages';
import { workerStorage } from './writer_test_fault';

const data = workerData as WriterWorkerData | undefined;
if (data?.port === undefined) throw new Error('checkpoint_writer_worker must run as a worker thread (see CheckpointWriter).');
const { port, storage: description } = data;
const post = (message: FromWriterWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
// Everything the write code reports goes to the logger the user gave the training thread: messages keep
// their order, so a warning arrives before the outcome of the save that caused it.
const logger: CheckpointLogger = { warn: (message) => post({ type: 'log', message }) };
// Local file calls block this thread instead of each waiting for a thread-pool hand-off (blockingFsLayer).
const inner = openStorage(description.modelDir, { local: { ...description.local, logger, fs: blockingFsLayer() }, s3: description.s3 });
const storage = workerStorage(inner, data.testFault);
const scheduler = new WriteScheduler(
  (job) => runWriteJob(storage, job, logger),
  (outcome) => {
    // A written or replaced job's buffers go back to the training thread's pool; a failed write's may still
    // be referenced by an upload that did not settle, so they are left to the garbage collector.
    const buffers = outcome.status === 'failed' ? [] : snapshotBuffersOf(outcome.job);
    if (outcome.status === 'written') post({ type: 'written', id: outcome.id, buffers }, movableBuffers(buffers));
    else if (outcome.status === 'replaced') post({ type: 'replaced', id: outcome.id, by: outcome.by, buffers }, movableBuffers(buffers));
    else post({ type: 'failed', id: outcome.id, error: cloneError(outcome.error) });
  },
  (error, job) => {
    const lost = handleRetentionFailure(error, job, logger);
    if (lost !== undefined) post({ type: 'lockLost', error: cloneError(lost) });
  },
);

port.on('message', (message: ToWriterWorker) => {
  if (message.type === 'job') scheduler.submit(message.id, message.job);
  else if (message.type === 'fence') storage.setToken(message.token);
  else {
    void scheduler.drained().then(() => {
      closeStorage(inner);
      post({ type: 'closed' });
    });
  }
});
post({ type: 'ready' });
