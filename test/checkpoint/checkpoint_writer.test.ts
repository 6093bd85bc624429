import * as fs from 'fs';
import * as path from 'path';
import { CheckpointWriter } from '../../src/checkpoint/checkpoint_writer';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { restoreLatest } from '../../src/checkpoint/checkpoint_manager';
import { CheckpointLockError, CheckpointWriterError } from '../../src/errors';
import { openStorage } from '../../src/checkpoint/open_storage';
import type { WriteJob } from '../../src/checkpoint/write_job';
import { readModelCheckpoint, writerFingerprint } from '../../src/checkpoint/model_checkpoint';
import { applySnapshot, snapshotModel } from '../../src/checkpoint/model_snapshot';
import type { CheckpointStorage } from '../../src/checkpoint/storage';
import { RecordingLogger, tempDir, modelWriteJob, tinyModel, train, weightBytes } from './helpers';

function blobJob(step: number): WriteJob {
  return { kind: 'blob', indexName: 'checkpoint_input', prefix: 'input.ckpt', keepMax: 5, step, bytes: new Uint8Array([step, 1, 2]), protectNewestModelStep: true };
}

describe('CheckpointWriter', () => {
  it('writes in a worker thread: model and input checkpoints are durable and indexed, in submission order', async () => {
    const dir = tempDir('writer');
    const writer = new CheckpointWriter(dir);
    await writer.open();
    expect(writer.inWorker).toBe(true);
    const results = await Promise.all([writer.submit(blobJob(3)), writer.submit(await modelWriteJob(3))]);
    expect(results).toEqual(['written', 'written']);
    const storage = openStorage(dir);
    expect((await readIndex(storage, 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([3]);
    expect((await readIndex(storage, 'checkpoint_input', 'input.ckpt'))?.map((e) => e.step)).toEqual([3]);
    const restored = await restoreLatest(tinyModel(), dir, { logger: new RecordingLogger() });
    expect(restored?.globalStep).toBe(3);
    await writer.close();
  });

  it('one in flight, one waiting: a newer save of a series replaces the waiting one', async () => {
    const dir = tempDir('writer-replace');
    const writer = new CheckpointWriter(dir);
    await writer.open();
    const jobs = await Promise.all([modelWriteJob(1), modelWriteJob(2), modelWriteJob(3)]);
    const results = await Promise.all(jobs.map((j) => writer.submit(j)));
    expect(results).toEqual(['written', 'replaced', 'written']);
    expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([1, 3]);
    await writer.close();
  });

  it('background: false writes on the training thread', async () => {
    const dir = tempDir('writer-sync');
    const writer = new CheckpointWriter(dir, { background: false });
    await writer.open();
    expect(writer.inWorker).toBe(false);
    await expect(writer.submit(await modelWriteJob(7))).resolves.toBe('written');
    expect(fs.existsSync(path.join(dir, 'model.ckpt-7', 'state.json'))).toBe(true);
    await writer.close();
  });

  it('a worker that dies fails its pending save, marks nothing latest, and raises CheckpointWriterError at the next step', async () => {
    const dir = tempDir('writer-crash');
    const writer = new CheckpointWriter(dir);
    await writer.open();
    await writer.submit(await modelWriteJob(1));
    const pending = writer.submit(await modelWriteJob(2));
    await writer.simulateWorkerCrash();
    await expect(pending).rejects.toThrow(CheckpointWriterError);
    expect(() => writer.throwIfFailed()).toThrow(
      new CheckpointWriterError(
        `The checkpoint writer's worker thread for ${dir} exited with code 1 while saving step(s) 2, which were not marked latest. ` +
          'Checkpoints written before are intact; restart the job to resume from the latest one.',
      ),
    );
    expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([1]);
    await writer.close();
  });

  it('a writer whose lock was taken over writes nothing more and raises CheckpointLockError', async () => {
    const dir = tempDir('writer-fence');
    const writer = new CheckpointWriter(dir);
    await writer.open();
    const release = await writer.storage.lock();
    writer.fence(writer.storage.heldLockToken as string);
    await writer.submit(await modelWriteJob(1));
    // Another job takes the lock over (as after a stale heartbeat): its owner file names another token.
    const ownerFile = path.join(dir, '.lock', 'owner.json');
    const owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as { token: string };
    fs.writeFileSync(ownerFile, JSON.stringify({ ...owner, token: 'second-job' }));
    await expect(writer.submit(await modelWriteJob(2))).rejects.toThrow(CheckpointLockError);
    expect(() => writer.throwIfFailed()).toThrow(CheckpointLockError);
    expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([1]);
    expect(fs.existsSync(path.join(dir, 'model.ckpt-2'))).toBe(false);
    await writer.close();
    await expect(release()).rejects.toThrow(CheckpointLockError);
  });

  it.each([true, false])('background %s: the next snapshot reuses the buffers of a written one, and both checkpoints restore bit for bit', async (background) => {
    const dir = tempDir(`writer-pool-${background}`);
    const writer = new CheckpointWriter(dir, { background });
    await writer.open();
    const model = tinyModel();
    const saved: number[][][] = [];
    const buffers: ArrayBufferLike[][] = [];
    for (const step of [1, 2]) {
      await train(model, step - 1, step);
      const snapshot = await snapshotModel(model, writer.snapshotBuffers);
      buffers.push([snapshot.weights[0].data.buffer, (snapshot.optimizer?.weights[0].data as Float32Array).buffer]);
      const meta = { globalStep: step, epoch: 0 };
      saved.push(weightBytes(model));
      await expect(writer.submit({ kind: 'model', snapshot, meta: { ...meta, fingerprint: writerFingerprint(meta) }, keepCheckpointMax: 5 })).resolves.toBe('written');
      // Weights and optimizer state: one buffer each, back in the pool once written.
      expect(writer.snapshotBuffers.size).toBe(2);
    }
    // Shared memory, never moved: from the worker the same memory comes back (new objects over it), so a byte
    // written through the first snapshot's buffer is read through the second's.
    for (const [first, second] of buffers[0].map((b, i) => [b, buffers[1][i]] as const)) {
      expect(first).toBeInstanceOf(SharedArrayBuffer);
      expect(second.byteLength).toBe(first.byteLength);
      new Uint8Array(first)[0] ^= 0xff;
      const seen = new Uint8Array(second)[0];
      new Uint8Array(first)[0] ^= 0xff;
      expect(seen).toBe(new Uint8Array(first)[0] ^ 0xff);
    }
    for (const step of [1, 2]) {
      const restored = tinyModel();
      const storage = openStorage(dir);
      const loaded = await readModelCheckpoint(storage, `model.ckpt-${step}`, step);
      await applySnapshot(restored, loaded.weights, loaded.optimizer);
      expect(weightBytes(restored)).toEqual(saved[step - 1]);
    }
    await writer.close();
  });

  it('acknowledges a save once it is latest; a retention that fails afterwards is a warning, the save stands', async () => {
    const dir = tempDir('writer-retention');
    const logger = new RecordingLogger();
    const storage = openStorage(dir);
    let refuseDeletes = false;
    // A storage of its own (no worker description): written on this thread, its delete refuses step 1.
    const failing: CheckpointStorage = Object.assign(Object.create(storage) as CheckpointStorage, {
      describeForWorker: () => null,
      delete: async (relPath: string) => {
        if (refuseDeletes && relPath === 'model.ckpt-1') throw new Error('injected: delete refused');
        await storage.delete(relPath);
      },
    });
    const writer = new CheckpointWriter(failing, { logger });
    await writer.open();
    for (const step of [1, 2]) {
      const job = await modelWriteJob(step);
      await expect(writer.submit({ ...job, keepCheckpointMax: 1 } as WriteJob)).resolves.toBe('written');
      refuseDeletes = true;
    }
    await writer.close();
    expect(logger.warnings).toEqual([
      'Retention after the save of step 2 failed (injected: delete refused); the save itself is durable and latest, ' +
        'and the next save applies retention again.',
    ]);
    // Retention rewrote the index before it deleted: step 2 alone is listed; step 1's files are left for the next save.
    expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([2]);
    expect(fs.existsSync(path.join(dir, 'model.ckpt-1', 'state.json'))).toBe(true);
  });

  it('a lock lost while retention runs (after the save was acknowledged) stops the writer with CheckpointLockError', async () => {
    const dir = tempDir('writer-retention-fence');
    const storage = openStorage(dir);
    const ownerFile = path.join(dir, '.lock', 'owner.json');
    let indexWrites = 0;
    // Written on this thread: right after retention rewrote the index for the save of step 2, another job takes the
    // lock over (its owner file names another token), so retention's delete of step 1 is refused by the fence.
    const takenOverAfterRetentionIndex: CheckpointStorage = Object.assign(Object.create(storage) as CheckpointStorage, {
      describeForWorker: () => null,
      // The fenced storage writes single files (the index) through the batch, for its check before the rename.
      writeAtomicBatch: async (...args: Parameters<NonNullable<CheckpointStorage['writeAtomicBatch']>>) => {
        const checksums = await (storage.writeAtomicBatch as NonNullable<CheckpointStorage['writeAtomicBatch']>)(...args);
        const [files] = args;
        if (files.length === 1 && files[0][0] === 'checkpoint' && ++indexWrites === 3) {
          const owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as { token: string };
          fs.writeFileSync(ownerFile, JSON.stringify({ ...owner, token: 'second-job' }));
        }
        return checksums;
      },
    });
    const logger = new RecordingLogger();
    const writer = new CheckpointWriter(takenOverAfterRetentionIndex, { logger });
    await writer.open();
    const release = await writer.storage.lock();
    writer.fence(writer.storage.heldLockToken as string);
    for (const step of [1, 2]) {
      const job = await modelWriteJob(step);
      await expect(writer.submit({ ...job, keepCheckpointMax: 1 } as WriteJob)).resolves.toBe('written');
    }
    await writer.close();
    expect(indexWrites).toBe(3);
    expect(() => writer.throwIfFailed()).toThrow(CheckpointLockError);
    expect(logger.warnings).toEqual([]);
    expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([2]);
    // The delete was refused: nothing of the new owner's (or ours) is removed once the lock is gone.
    expect(fs.existsSync(path.join(dir, 'model.ckpt-1', 'state.json'))).toBe(true);
    await expect(release()).rejects.toThrow(CheckpointLockError);
  });
});
