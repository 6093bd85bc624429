/**
 * A checkpoint writer whose worker thread dies (exits, or throws an uncaught error) just before it commits
 * a model index — the save's files are on disk, the save is not yet latest — must surface as a typed
 * `CheckpointWriterError` at the next step, and leave the checkpoints written before as the latest,
 * intact. The worker is made to fail through `TFJS_RESUMABLE_WRITER_TEST_FAULT` (read when it starts).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointWriter, CheckpointWriterError, data, resumableFit, restoreLatest, verifyCheckpoints } from '../../src';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { openStorage } from '../../src/checkpoint/open_storage';
import { WRITER_TEST_FAULT_ENV } from '../../src/checkpoint/writer_messages';
import { RecordingLogger, tempDir, modelWriteJob, tinyModel } from './helpers';

async function withWriterFault<T>(fault: string, run: () => Promise<T>): Promise<T> {
  process.env[WRITER_TEST_FAULT_ENV] = fault;
  try {
    return await run();
  } finally {
    delete process.env[WRITER_TEST_FAULT_ENV];
  }
}

async function indexedSteps(dir: string): Promise<number[] | undefined> {
  return (await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step);
}

describe('a checkpoint writer whose worker dies before an index commit', () => {
  const cases: Array<[string, string]> = [
    ['exits', 'exited with code 1'],
    ['throws', `threw ${WRITER_TEST_FAULT_ENV}: injected failure before model index write 3`],
  ];
  it.each(cases)('worker %s: the save fails with CheckpointWriterError, nothing is marked latest that is not complete', (how, what) =>
    withWriterFault(`${how === 'exits' ? 'exit' : 'throw'}-before-index:3`, async () => {
      const dir = tempDir(`writer-dies-${how}`);
      const writer = new CheckpointWriter(dir);
      await writer.open();
      expect(writer.inWorker).toBe(true);
      await expect(writer.submit(await modelWriteJob(1))).resolves.toBe('written');
      await expect(writer.submit(await modelWriteJob(2))).resolves.toBe('written');
      const expected = new CheckpointWriterError(
        `The checkpoint writer's worker thread for ${dir} ${what} while saving step(s) 3, which were not marked latest. ` +
          'Checkpoints written before are intact; restart the job to resume from the latest one.',
      );
      await expect(writer.submit(await modelWriteJob(3))).rejects.toEqual(expected);
      expect(() => writer.throwIfFailed()).toThrow(expected);
      expect(() => writer.throwIfFailed()).toThrow(CheckpointWriterError);
      // Step 3's files were written, its index entry never was.
      expect(fs.existsSync(path.join(dir, 'model.ckpt-3', 'state.json'))).toBe(true);
      expect(await indexedSteps(dir)).toEqual([1, 2]);
      expect((await restoreLatest(tinyModel(), dir, { logger: new RecordingLogger() }))?.globalStep).toBe(2);
      await writer.close();
    }));

  it('through resumableFit: the run stops with CheckpointWriterError at a step after the failure, and resumes from the last indexed save', () =>
    withWriterFault('exit-before-index:4', async () => {
      const dir = tempDir('writer-dies-fit');
      const model = tinyModel();
      const dataset = data
        .range(0, 64)
        .map((i) => ({ xs: tf.tensor1d([i / 64, 1, 0, i % 2]), ys: tf.tensor1d([Math.sin(i), 0]) }))
        .batch(4);
      const logger = new RecordingLogger();
      const err = await resumableFit(model, dataset, { epochs: 4, verbose: 0 }, { modelDir: dir, saveSteps: 2, logger, preemption: false }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CheckpointWriterError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^The checkpoint writer's worker thread for ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} exited with code 1 while saving step\\(s\\) [\\d, ]+, which were not marked latest\\. ` +
            'Checkpoints written before are intact; restart the job to resume from the latest one\\.$',
        ),
      );
      // Saves trigger at steps 1 (the first step), 3, 5, 7, ... (every 2 from the last); a waiting one may be
      // replaced by a newer one, so which were written depends on timing, but exactly three index writes happened.
      const steps = (await indexedSteps(dir)) ?? [];
      expect(steps.length).toBe(3);
      expect(steps[0]).toBe(1);
      expect(steps.every((step, i) => step % 2 === 1 && (i === 0 || step > steps[i - 1]))).toBe(true);
      const report = await verifyCheckpoints(dir);
      expect(report.filter((entry) => entry.inIndex).map((entry) => [entry.step, entry.status])).toEqual(steps.map((step) => [step, 'ok']));
      model.dispose();
      const again = tinyModel();
      expect((await restoreLatest(again, dir, { logger: new RecordingLogger() }))?.globalStep).toBe(steps[2]);
    }));
});
