/**
 * The public surface, exactly: what `require('tfjs-resumable')` holds at run time (and under `data`), so a name
 * only joins or leaves it on purpose (issue 10 item 5). Type-only exports (`types`, `CheckpointStorage`,
 * `SessionRunValues`, `Coordinator`) do not exist at run time; `npm run docs:check` holds them to their TSDoc. The
 * CLI, which imports no public name, still runs as the `tfjs-resumable` bin does.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as api from '../src';
import { tempDir } from './checkpoint/helpers';

const ROOT = path.resolve(__dirname, '..');

test('the top level exports exactly the calls, hooks, storages and errors a user needs', () => {
  expect(Object.keys(api).sort()).toEqual([
    'CheckpointError',
    'CheckpointInputPipelineHook',
    'CheckpointLockError',
    'CheckpointLockHeldError',
    'CheckpointNotFoundError',
    'CheckpointSaverHook',
    'CheckpointSaverListener',
    'CheckpointWriter',
    'CheckpointWriterError',
    'CorruptCheckpointError',
    'Estimator',
    'HookCallback',
    'HookError',
    'InvalidArgumentError',
    'LocalCheckpointStorage',
    'LoggingTensorHook',
    'NanLossDuringTrainingError',
    'NanTensorHook',
    'NoBackendError',
    'PreemptionHook',
    'ResumableError',
    'RunConfig',
    'S3AccessDeniedError',
    'S3BucketNotFoundError',
    'S3CheckpointStorage',
    'S3CredentialsMissingError',
    'S3EndpointUnreachableError',
    'S3ThrottledError',
    'SecondOrStepTimer',
    'SessionRunArgs',
    'SessionRunContext',
    'SessionRunHook',
    'StepCounterHook',
    'StopAtStepHook',
    'StopStepAlreadyReachedError',
    'SummarySaverHook',
    'TfjsNodeRequiredError',
    'TrainingSession',
    'UnsupportedModelDirError',
    'acquireCheckpointLock',
    'checkDeterminism',
    'checkpointModelHandler',
    'data',
    'listCheckpoints',
    'makeSaveableFromIterator',
    'openStorage',
    'prepareSnapshot',
    'restoreLatest',
    'resumableFit',
    'saveCheckpoint',
    'useFastestBackend',
    'verifyCheckpoints',
  ]);
});

test('data exports the sources, the dataset and iterator classes, their state codec and their errors', () => {
  expect(Object.keys(api.data).sort()).toEqual([
    'CheckpointableDataset',
    'CheckpointableIterator',
    'CsvDataset',
    'DATASET_STATE_FORMAT_VERSION',
    'PipelineMismatchError',
    'SeedableRng',
    'StateFormatError',
    'array',
    'csv',
    'decodeDatasetState',
    'encodeDatasetState',
    'generator',
    'range',
    'tensorSlices',
    'textLines',
    'zip',
  ]);
});

test('the CLI runs as the bin does: list --json of a checkpoint saved through the public API', async () => {
  const modelDir = path.join(tempDir('public-api'), 'run');
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })],
  });
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  expect(await api.saveCheckpoint(model, modelDir, { globalStep: 3, epoch: 0 })).toBe('model.ckpt-3');

  const cli = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(ROOT, 'src', 'cli.ts'), 'list', modelDir, '--json'], {
    encoding: 'utf8',
  });
  expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
  const listed = JSON.parse(cli.stdout) as { location: string; modelCheckpoints: { step: number; path: string; status: string }[] };
  expect(listed.location).toBe(modelDir);
  expect(listed.modelCheckpoints.map((c) => [c.path, c.step, c.status])).toEqual([['model.ckpt-3', 3, 'ok']]);
  expect(fs.readdirSync(modelDir).sort()).toEqual(['checkpoint', 'model.ckpt-3']);
});
