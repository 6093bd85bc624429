/**
 * The input checkpoint payload carries its own magic ("TFRI") and format version inside the blob frame, so a
 * foreign blob or one from a newer tfjs-resumable is refused with what to do, while a modelDir written before
 * the magic (fixture `fixtures/input_ckpt_before_magic`: TF's port, 2 steps trained) still resumes.
 * Everything runs through `Estimator.train` with `CheckpointInputPipelineHook`, as a user's restart does.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointInputPipelineHook, CorruptCheckpointError, Estimator, RunConfig, data } from '../../src';
import { BLOB_HEADER_BYTES, frameBlob, unframeBlob } from '../../src/checkpoint/checksum';
import { INPUT_CHECKPOINT_FORMAT_VERSION } from '../../src/checkpoint/input_checkpoint';
import { RecordingLogger, tempDir } from './helpers';
import { latestElement, recordingModel } from '../estimator/record_latest_layer';

beforeAll(() => tf.setBackend('cpu'));

const FIXTURE = path.join(__dirname, 'fixtures', 'input_ckpt_before_magic');

function rangeInput(): data.CheckpointableDataset<tf.TensorContainer> {
  return data.range(0, 10).map((x) => ({ xs: tf.tensor1d([x]), ys: tf.tensor1d([0]) })).batch(1);
}

function estimator(modelDir: string): Estimator {
  const config = new RunConfig({ saveCheckpointsSteps: 1, backgroundCheckpointWrites: false, keepCheckpointMax: 1 }, {});
  return new Estimator({ model: recordingModel(), modelDir, config, logger: new RecordingLogger() });
}

async function trainTwo(modelDir: string): Promise<[number, number]> {
  const est = estimator(modelDir);
  await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est)], steps: 2 });
  return [est.globalStep, latestElement(est.model)];
}

function copyFixture(tag: string): string {
  const dir = path.join(tempDir(tag), 'run');
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

/** Replace the payload of a blob file, keeping a valid TFRB frame (as another writer would have made it). */
function rewritePayload(file: string, edit: (payload: Uint8Array) => Uint8Array): void {
  const payload = unframeBlob(new Uint8Array(fs.readFileSync(file)), file);
  fs.writeFileSync(file, frameBlob(edit(new Uint8Array(payload))));
}

it('a modelDir written before the magic resumes (4, 3), and the new input checkpoints start with TFRI version 1', async () => {
  const dir = copyFixture('input-legacy');
  const legacy = fs.readFileSync(path.join(dir, 'input.ckpt-2'));
  expect([...legacy.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + 4)]).toEqual([1, 0, 0, 0]); // old layout: the count first
  expect(await trainTwo(dir)).toEqual([4, 3]);
  const written = fs.readFileSync(path.join(dir, 'input.ckpt-4'));
  expect(written.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + 4).toString('latin1')).toBe('TFRI');
  expect(written.readUInt32LE(BLOB_HEADER_BYTES + 4)).toBe(INPUT_CHECKPOINT_FORMAT_VERSION);
  expect(written.readUInt32LE(BLOB_HEADER_BYTES + 8)).toBe(1);
  // And the new layout resumes too.
  expect(await trainTwo(dir)).toEqual([6, 5]);
});

it('an input checkpoint from a newer format version is refused, saying to upgrade', async () => {
  const dir = path.join(tempDir('input-newer'), 'run');
  expect(await trainTwo(dir)).toEqual([2, 1]);
  rewritePayload(path.join(dir, 'input.ckpt-2'), (payload) => {
    new DataView(payload.buffer, payload.byteOffset).setUint32(4, INPUT_CHECKPOINT_FORMAT_VERSION + 1, true);
    return payload;
  });
  const attempt = trainTwo(dir);
  await expect(attempt).rejects.toThrow(CorruptCheckpointError);
  await expect(attempt).rejects.toThrow(
    `Input checkpoint has format version 2; this version of tfjs-resumable reads version 1. Upgrade tfjs-resumable ` +
      'to resume from it (or delete the input.ckpt-* files to start the input pipeline from the beginning).',
  );
});

it('a foreign blob in input.ckpt-N (valid frame, other payload) is refused as not an input checkpoint', async () => {
  const dir = path.join(tempDir('input-foreign'), 'run');
  expect(await trainTwo(dir)).toEqual([2, 1]);
  const weights = fs.readFileSync(path.join(dir, 'model.ckpt-2', 'weights.bin'));
  rewritePayload(path.join(dir, 'input.ckpt-2'), () => new Uint8Array(weights));
  await expect(trainTwo(dir)).rejects.toThrow(
    new CorruptCheckpointError(
      'Input checkpoint is not one: it starts with neither the TFRI magic number nor a pipeline state, so another ' +
        'file was probably copied over it. Restore the original, or delete it so the previous input checkpoint is used.',
    ),
  );
});
