import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';
import { Estimator } from '../../src/estimator/estimator';
import { RunConfig } from '../../src/estimator/run_config';
import { CheckpointInputPipelineHook, NoCheckpointableInputError } from '../../src/hooks/checkpoint_input_pipeline_hook';
import { InvalidArgumentError } from '../../src/errors';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { makeSaveableFromIterator } from '../../src/data/saveable';
import { RecordingLogger, tempDir } from '../checkpoint/helpers';
import { latestElement, recordingModel } from './record_latest_layer';
import { useTestBackend } from '../helpers/test_backend';

beforeAll(async () => {
  await useTestBackend();
});

/** TF's test input: range(10), one element per step. */
function rangeInput(): data.CheckpointableDataset<tf.TensorContainer> {
  return data.range(0, 10).map((x) => ({ xs: tf.tensor1d([x]), ys: tf.tensor1d([0]) })).batch(1);
}

function estimator(modelDir: string, logger = new RecordingLogger()): Estimator {
  // Every save written before training goes on, so each step's checkpoint exists for the tests below.
  const config = new RunConfig({ saveCheckpointsSteps: 1, backgroundCheckpointWrites: false }, {});
  return new Estimator({ model: recordingModel(), modelDir, config, logger });
}

describe('Estimator with RunConfig.lockWaitMs', () => {
  it('waits for the job holding the modelDir, then restores the checkpoint that job saved last', async () => {
    const modelDir = tempDir('est-lock-wait');
    const previousJob = new LocalCheckpointStorage(modelDir);
    const releasePrevious = await previousJob.lock();
    const logger = new RecordingLogger();
    const config = new RunConfig({ saveCheckpointsSteps: 1, backgroundCheckpointWrites: false, lockWaitMs: 30_000 }, {});
    const est = new Estimator({ model: recordingModel(), modelDir, config, logger });
    const training = est.train(rangeInput, { steps: 2 });
    await new Promise((resolve) => setTimeout(resolve, 800));
    // The previous job's final save lands while the new one already waits: the restore must see it.
    await saveCheckpoint(recordingModel(), previousJob, { globalStep: 7, epoch: 0 });
    await releasePrevious();
    await training;
    expect(est.globalStep).toBe(9);
    expect(await est.latestCheckpoint()).toBe('model.ckpt-9');
    expect(logger.warnings.filter((w) => w.startsWith('Waiting for the lock on ')).length).toBe(1);
  });
});

describe('Estimator + CheckpointInputPipelineHook: TF 1.11 test, ported', () => {
  it('train 2 steps with the hook → (2, 1); again → (4, 3); without the hook → (6, 1)', async () => {
    const modelDir = tempDir('tf-port');
    // A new Estimator and model object per call, as a restarted process would have.
    let est = estimator(modelDir);
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est)], steps: 2 });
    expect([est.globalStep, latestElement(est.model)]).toEqual([2, 1]);

    est = estimator(modelDir);
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est)], steps: 2 });
    expect([est.globalStep, latestElement(est.model)]).toEqual([4, 3]);

    est = estimator(modelDir);
    await est.train(rangeInput, { steps: 2 });
    expect([est.globalStep, latestElement(est.model)]).toEqual([6, 1]);

    expect(await est.latestCheckpoint()).toBe('model.ckpt-6');
    const files = fs.readdirSync(modelDir).sort();
    expect(files.filter((f) => f.startsWith('input'))).toEqual(['input.ckpt-0', 'input.ckpt-1', 'input.ckpt-2', 'input.ckpt-3', 'input.ckpt-4']);
    expect(files).toContain('checkpoint_input');
  });

  it('fails clearly when the input has no checkpointable iterator (a tf.data dataset)', async () => {
    const est = estimator(tempDir('tf-port-plain'));
    const plainInput = () => tf.data.array([1, 2, 3]).map((x) => ({ xs: tf.tensor1d([x as number]), ys: tf.tensor1d([0]) })).batch(1);
    await expect(est.train(plainInput, { hooks: [new CheckpointInputPipelineHook(est)], steps: 2 })).rejects.toThrow(
      new NoCheckpointableInputError(
        'CheckpointInputPipelineHook found no checkpointable input pipeline in this run. Build the input with ' +
          "tfjs-resumable's data.* (not tf.data) and pass it to HookCallback ({ dataset }), or use Estimator.train.",
      ),
    );
  });
});

describe('makeSaveableFromIterator: the input position inside the model checkpoint', () => {
  it('train 2 steps → (2, 1); a new process-like setup continues → (4, 3)', async () => {
    const modelDir = tempDir('saveable');
    let input = rangeInput();
    let est = estimator(modelDir);
    await est.train(() => input, { steps: 2, saveables: [makeSaveableFromIterator(input)] });
    expect([est.globalStep, latestElement(est.model)]).toEqual([2, 1]);
    // No input checkpoint files: the state rides in model.ckpt-2 as an extra.
    expect(fs.readdirSync(modelDir).filter((f) => f.startsWith('input'))).toEqual([]);
    expect(fs.readdirSync(path.join(modelDir, 'model.ckpt-2')).sort()).toContain('extra-input_pipeline.bin');

    input = rangeInput();
    est = estimator(modelDir);
    await est.train(() => input, { steps: 2, saveables: [makeSaveableFromIterator(input)] });
    expect([est.globalStep, latestElement(est.model)]).toEqual([4, 3]);
  });

  it('refuses a tf.data dataset', () => {
    const plain = tf.data.array([1, 2, 3]);
    expect(() => makeSaveableFromIterator(plain as unknown as Parameters<typeof makeSaveableFromIterator>[0])).toThrow(
      new InvalidArgumentError(
        'makeSaveableFromIterator needs a checkpointable dataset (built with tfjs-resumable data.*), not a tf.data dataset or a plain iterator.',
      ),
    );
  });
});

describe('CheckpointInputPipelineHook configuration (TF timer rule)', () => {
  it('needs exactly one of saveCheckpointsSteps / saveCheckpointsSecs', () => {
    expect(() => new CheckpointInputPipelineHook({ modelDir: '/tmp/x', config: {} })).toThrow(
      new InvalidArgumentError(
        'CheckpointInputPipelineHook: exactly one of config.saveCheckpointsSteps and config.saveCheckpointsSecs must be set (got neither).',
      ),
    );
    expect(() => new CheckpointInputPipelineHook({ modelDir: '/tmp/x', config: { saveCheckpointsSteps: 5, saveCheckpointsSecs: 5 } })).toThrow(
      /got both\)\.$/,
    );
    expect(() => new CheckpointInputPipelineHook({ modelDir: '/tmp/x', config: { saveCheckpointsSteps: 0 } })).toThrow(InvalidArgumentError);
  });

  it('names files input.ckpt / checkpoint_input, or per worker with numWorkerReplicas > 1', async () => {
    const single = new CheckpointInputPipelineHook({ modelDir: '/tmp/x', config: { saveCheckpointsSteps: 1 } });
    expect([single.checkpointPrefix, single.latestFilename]).toEqual(['input.ckpt', 'checkpoint_input']);
    const config = { saveCheckpointsSteps: 1, numWorkerReplicas: 3, taskType: 'worker', taskId: 1 };
    const worker = new CheckpointInputPipelineHook({ modelDir: '/tmp/x', config });
    expect([worker.checkpointPrefix, worker.latestFilename]).toEqual(['input_worker_1.ckpt', 'checkpoint_input_worker_1']);

    const modelDir = tempDir('worker-files');
    // Synchronous saves: every triggered input checkpoint is written (in the background a newer one replaces a waiting one).
    const est = new Estimator({
      model: recordingModel(),
      modelDir,
      config: new RunConfig({ ...config, isChief: false, backgroundCheckpointWrites: false }, {}),
    });
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est)], steps: 3 });
    // Not the chief: no model checkpoint; the worker's own input checkpoints only.
    expect(fs.readdirSync(modelDir).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'checkpoint_input_worker_1',
      'input_worker_1.ckpt-0',
      'input_worker_1.ckpt-1',
      'input_worker_1.ckpt-2',
      'input_worker_1.ckpt-3',
    ]);
  });

  /** 4 steps with model checkpoints every step (1..4) and input checkpoints every 2 steps (0, 1, 3, 4). */
  async function fourSteps(modelDir: string): Promise<void> {
    const est = estimator(modelDir);
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook({ modelDir, config: { saveCheckpointsSteps: 2 } })], steps: 4 });
    expect([est.globalStep, latestElement(est.model)]).toEqual([4, 3]);
    expect(fs.readdirSync(modelDir).filter((f) => f.startsWith('input.ckpt-')).sort()).toEqual([
      'input.ckpt-0',
      'input.ckpt-1',
      'input.ckpt-3',
      'input.ckpt-4',
    ]);
  }

  function corruptModelCheckpoint(modelDir: string, step: number): void {
    fs.writeFileSync(path.join(modelDir, `model.ckpt-${step}`, 'weights.bin'), Buffer.from([1, 2, 3]));
  }

  it('prefers the input checkpoint of the restored model step', async () => {
    const modelDir = tempDir('prefer-step');
    await fourSteps(modelDir);
    // The newest model checkpoint is unusable: the model falls back to step 3, and so must the data.
    corruptModelCheckpoint(modelDir, 4);
    const logger = new RecordingLogger();
    const est = estimator(modelDir, logger);
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est, { logger })], steps: 1 });
    // Continues with element 3 (after model step 3), not element 4 (after the latest input checkpoint).
    expect([est.globalStep, latestElement(est.model)]).toEqual([4, 3]);
    expect(logger.warnings.filter((w) => w.startsWith('No usable input checkpoint'))).toEqual([]);
  });

  it('restores the latest input checkpoint, with a warning, when none matches the model step', async () => {
    const modelDir = tempDir('no-match');
    await fourSteps(modelDir);
    corruptModelCheckpoint(modelDir, 4);
    corruptModelCheckpoint(modelDir, 3);
    const logger = new RecordingLogger();
    const est = estimator(modelDir, logger);
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est, { logger })], steps: 1 });
    // Model from step 2, data from step 4: the next element is 4.
    expect([est.globalStep, latestElement(est.model)]).toEqual([3, 4]);
    expect(logger.warnings.filter((w) => w.startsWith('No usable input checkpoint'))).toEqual([
      `No usable input checkpoint for global step 2 in ${modelDir}; restoring the newest usable one, step 4: ` +
        'the data position and the model weights come from different steps.',
    ]);
  });

  it('skips a damaged input checkpoint of the model step, with warnings', async () => {
    const modelDir = tempDir('damaged-input');
    await fourSteps(modelDir);
    corruptModelCheckpoint(modelDir, 4);
    // Model step 3 has an input checkpoint, but it is truncated: the newest usable one (4) is restored.
    const input3 = path.join(modelDir, 'input.ckpt-3');
    fs.truncateSync(input3, fs.statSync(input3).size - 5);
    const logger = new RecordingLogger();
    const est = estimator(modelDir, logger);
    await est.train(rangeInput, { hooks: [new CheckpointInputPipelineHook(est, { logger })], steps: 1 });
    expect([est.globalStep, latestElement(est.model)]).toEqual([4, 4]);
    const inputWarnings = logger.warnings.filter((w) => w.includes('input.ckpt') || w.startsWith('No usable input'));
    expect(inputWarnings).toHaveLength(3);
    expect(inputWarnings[0]).toMatch(new RegExp(`^Checkpoint ${modelDir}/input\\.ckpt-3 is unusable: .* Falling back to the previous checkpoint\\.$`));
    expect(inputWarnings[1]).toBe(
      `No usable input checkpoint for global step 3 in ${modelDir}; restoring the newest usable one, step 4: ` +
        'the data position and the model weights come from different steps.',
    );
    // The next input save's retention does not count the damaged checkpoint: it is deleted, not kept.
    expect(inputWarnings[2]).toMatch(
      new RegExp(`^Checkpoint ${modelDir}/input\\.ckpt-3 does not verify \\(.*\\): it no longer counts as one of the 5 kept; deleted\\.$`),
    );
    expect(fs.existsSync(input3)).toBe(false);
  });
});
