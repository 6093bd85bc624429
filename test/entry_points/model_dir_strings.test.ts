/**
 * Every public entry point that takes a modelDir, called the way a user calls it: with a string. Each
 * runs with a relative local path, a `file://` URL (the form tfjs code passes in Node) and an
 * `s3://bucket/prefix` URL against s3rver on 127.0.0.1, configured only through the documented
 * environment variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Each scenario
 * trains, stops part-way, restores into a fresh model and a fresh dataset object, continues, and must end
 * with the uninterrupted run's weights bit for bit; the checkpoints must be where the string says — on
 * the S3 server and nowhere on the local disk for `s3://` (0.1.0 wrote them to a local `./s3:/...` folder).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointInputPipelineHook,
  CheckpointSaverHook,
  Estimator,
  HookCallback,
  RunConfig,
  S3CheckpointStorage,
  StopAtStepHook,
  checkpointModelHandler,
  data,
  listCheckpoints,
  restoreLatest,
  resumableFit,
  saveCheckpoint,
  verifyCheckpoints,
} from '../../src';
import { main as runCli } from '../../src/cli';
import { writeCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { snapshotModel } from '../../src/checkpoint/model_snapshot';
import { RecordingLogger, weightBytes } from '../checkpoint/helpers';
import { s3EnvFor, startS3Server, type TestS3Server } from '../helpers/s3_server';
import { smallDataset, smallModel } from '../helpers/small_fit';

let server: TestS3Server;
let cwd: string;
const originalCwd = process.cwd();
const originalEnv = { ...process.env };

beforeAll(async () => {
  await tf.setBackend('cpu');
  server = await startS3Server('e2e-bucket');
  Object.assign(process.env, s3EnvFor(server));
});

afterAll(async () => {
  process.chdir(originalCwd);
  process.env = originalEnv;
  await server.stop();
});

beforeEach(() => {
  // Each scenario runs in an empty working directory, so a checkpoint written "locally by mistake" shows.
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-e2e-cwd-'));
  process.chdir(cwd);
});

afterEach(() => {
  process.chdir(originalCwd);
  fs.rmSync(cwd, { recursive: true, force: true });
});

const model = smallModel;
const dataset = (): data.CheckpointableDataset<tf.TensorContainer> => smallDataset('e2e-seed');

/** The uninterrupted 3-epoch run (18 steps), computed once, in a model that never saw a checkpoint. */
let referenceWeights: number[][] | undefined;
async function reference(): Promise<number[][]> {
  if (referenceWeights === undefined) {
    const m = model();
    await m.fitDataset(dataset(), { epochs: 3, verbose: 0 });
    referenceWeights = weightBytes(m);
  }
  return referenceWeights;
}

interface Form {
  name: string;
  /** The modelDir string a user would write, for scenario `tag`. */
  dir(tag: string): string;
  /** What the storage holds below that modelDir (object names), read independently of the code under test. */
  contents(tag: string): Promise<string[]>;
  /** The entries the working directory must have afterwards. */
  localEntries(tag: string): string[];
}

const forms: Form[] = [
  {
    name: 'a relative local path',
    dir: (tag) => `./runs/${tag}`,
    contents: async (tag) => listFiles(path.join(cwd, 'runs', tag)),
    localEntries: () => ['runs'],
  },
  {
    name: 'a file:// URL',
    dir: (tag) => `file://./runs/${tag}`,
    contents: async (tag) => listFiles(path.join(cwd, 'runs', tag)),
    localEntries: () => ['runs'],
  },
  {
    name: 'an s3:// URL',
    dir: (tag) => `s3://${server.bucket}/runs/${tag}`,
    contents: async (tag) => {
      const storage = new S3CheckpointStorage(`s3://${server.bucket}/runs/${tag}`);
      try {
        return await storage.list('');
      } finally {
        storage.destroy();
      }
    },
    localEntries: () => [],
  },
];

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The storage holds exactly the checkpoints `steps` (model, and input when `input`) and nothing is elsewhere. */
async function expectCheckpointsAt(form: Form, tag: string, modelSteps: number[], inputSteps: number[] = []): Promise<void> {
  const contents = await form.contents(tag);
  const modelDirs = [...new Set(contents.filter((f) => f.startsWith('model.ckpt-')).map((f) => f.split('/')[0]))];
  const inputs = contents.filter((f) => f.startsWith('input.ckpt-'));
  expect({
    index: contents.includes('checkpoint'),
    modelCheckpoints: modelDirs.sort((a, b) => stepOf(a) - stepOf(b)),
    inputCheckpoints: inputs.sort((a, b) => stepOf(a) - stepOf(b)),
    workingDirectory: fs.readdirSync(cwd).sort(),
  }).toEqual({
    index: true,
    modelCheckpoints: modelSteps.map((s) => `model.ckpt-${s}`),
    inputCheckpoints: inputSteps.map((s) => `input.ckpt-${s}`),
    workingDirectory: form.localEntries(tag),
  });
}

function stepOf(name: string): number {
  return Number(/-(\d+)$/.exec(name)?.[1]);
}

describe.each(forms)('modelDir given as $name', (form) => {
  it('resumableFit: stopped at step 7, resumed in a fresh model and dataset, equals the uninterrupted run', async () => {
    const modelDir = form.dir('fit');
    const quiet = { logger: new RecordingLogger(), preemption: false as const, saveSteps: 3, keepCheckpointMax: 10 };
    const first = await resumableFit(model(), dataset(), { epochs: 3, verbose: 0 }, {
      modelDir,
      hooks: [new StopAtStepHook({ lastStep: 7 })],
      ...quiet,
    });
    expect([first.completed, first.globalStep]).toEqual([false, 7]);
    const resumed = model();
    const second = await resumableFit(resumed, dataset(), { epochs: 3, verbose: 0 }, { modelDir, ...quiet });
    expect([second.restoredFrom?.path, second.completed, second.globalStep]).toEqual(['model.ckpt-7', true, 18]);
    expect(weightBytes(resumed)).toEqual(await reference());
    // Background saves skip a snapshot that a newer one replaced while it waited: which periodic ones
    // land depends on the disk; the resumed-from step and the final one always do.
    const contents = await form.contents('fit');
    expect(contents).toEqual(expect.arrayContaining(['checkpoint', 'model.ckpt-7/state.json', 'model.ckpt-18/state.json']));
    expect(contents.filter((f) => f !== 'checkpoint' && !/^model\.ckpt-\d+\//.test(f))).toEqual([]);
    expect(fs.readdirSync(cwd).sort()).toEqual(form.localEntries('fit'));
  });

  it('CheckpointSaverHook + CheckpointInputPipelineHook in fitDataset, restoreLatest in the user loop', async () => {
    const modelDir = form.dir('hooks');
    const logger = new RecordingLogger();
    const hooksFor = (lastStep?: number) => [
      new CheckpointInputPipelineHook({ modelDir, config: { saveCheckpointsSteps: 3, keepCheckpointMax: 10 } }, { logger, background: false }),
      new CheckpointSaverHook(modelDir, { saveSteps: 3, keepCheckpointMax: 10, background: false, logger }),
      ...(lastStep !== undefined ? [new StopAtStepHook({ lastStep })] : []),
    ];
    const firstModel = model();
    const firstData = dataset();
    const first = new HookCallback(hooksFor(7), { dataset: firstData });
    await firstModel.fitDataset(firstData, { epochs: 3, verbose: 0, callbacks: [first] });
    expect(first.globalStep).toBe(7);

    const resumed = model();
    const restored = await restoreLatest(resumed, modelDir, { logger });
    expect([restored?.path, restored?.globalStep, restored?.epoch]).toEqual(['model.ckpt-7', 7, 1]);
    const resumedData = dataset();
    const second = new HookCallback(hooksFor(), { dataset: resumedData, globalStep: restored?.globalStep, epoch: restored?.epoch });
    // The input hook restores the data position mid-epoch 2: this fit's first epoch is that epoch's rest.
    await resumed.fitDataset(resumedData, { epochs: 2, verbose: 0, callbacks: [second] });
    expect(second.globalStep).toBe(18);
    expect(weightBytes(resumed)).toEqual(await reference());
    expect(logger.warnings).toEqual([]);
    // Synchronous saves: the first step, every 3rd, the first step after the resume (TF's timer), the end.
    await expectCheckpointsAt(form, 'hooks', [1, 4, 7, 8, 11, 14, 17, 18], [0, 1, 4, 7, 8, 11, 14, 17, 18]);
  });

  it('Estimator (modelDir from RunConfig, and from TF_CONFIG model_dir) with the input hook', async () => {
    const logger = new RecordingLogger();
    const repeated = (): data.CheckpointableDataset<tf.TensorContainer> => dataset().repeat();
    const viaConfig = form.dir('estimator');
    const tfConfig = { TF_CONFIG: JSON.stringify({ model_dir: viaConfig }) };
    const estimator = (m: tf.LayersModel): Estimator =>
      new Estimator({ model: m, config: new RunConfig({ saveCheckpointsSteps: 3, keepCheckpointMax: 10, backgroundCheckpointWrites: false }, tfConfig), logger });
    expect(estimator(model()).modelDir).toBe(viaConfig);
    const first = estimator(model());
    await first.train(repeated, { maxSteps: 7, hooks: [new CheckpointInputPipelineHook(first, { logger })] });
    expect(await first.latestCheckpoint()).toBe('model.ckpt-7');

    const resumed = model();
    const second = estimator(resumed);
    await second.train(repeated, { maxSteps: 18, hooks: [new CheckpointInputPipelineHook(second, { logger })] });

    // The same Estimator job never interrupted, in a directory of its own.
    const uninterrupted = model();
    const referenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-e2e-estimator-ref-'));
    const plain = new Estimator({ model: uninterrupted, modelDir: referenceDir, config: new RunConfig({ saveCheckpointsSteps: 3 }, {}), logger });
    await plain.train(repeated, { maxSteps: 18, hooks: [new CheckpointInputPipelineHook(plain, { logger })] });
    fs.rmSync(referenceDir, { recursive: true, force: true });
    expect(weightBytes(resumed)).toEqual(weightBytes(uninterrupted));
    expect(logger.warnings).toEqual([]);
    await expectCheckpointsAt(form, 'estimator', [1, 4, 7, 8, 11, 14, 17, 18], [0, 1, 4, 7, 8, 11, 14, 17, 18]);
  });

  it('saveCheckpoint, writeCheckpoint, restoreLatest, listCheckpoints, verifyCheckpoints, checkpointModelHandler', async () => {
    const modelDir = form.dir('functions');
    const trained = model();
    await trained.fitDataset(dataset(), { epochs: 1, verbose: 0 });
    expect(await saveCheckpoint(trained, modelDir, { globalStep: 6, epoch: 1 })).toBe('model.ckpt-6');
    await trained.fitDataset(dataset(), { epochs: 1, verbose: 0 });
    expect(await writeCheckpoint(modelDir, await snapshotModel(trained), { globalStep: 12, epoch: 2 })).toBe('model.ckpt-12');

    const restored = model();
    expect((await restoreLatest(restored, modelDir))?.path).toBe('model.ckpt-12');
    expect(weightBytes(restored)).toEqual(weightBytes(trained));
    const listed = (await listCheckpoints(modelDir)).map((c) => [c.step, c.epoch, c.status, c.latest]);
    expect(listed).toEqual([
      [6, 1, 'ok', false],
      [12, 2, 'ok', true],
    ]);
    expect((await verifyCheckpoints(modelDir)).map((c) => c.status)).toEqual(['ok', 'ok']);
    const loaded = await tf.loadLayersModel(checkpointModelHandler(modelDir));
    expect(weightBytes(loaded)).toEqual(weightBytes(trained));
    await expectCheckpointsAt(form, 'functions', [6, 12]);
  });

  it('the CLI: list, verify and inspect', async () => {
    const modelDir = form.dir('cli');
    await saveCheckpoint(model(), modelDir, { globalStep: 3, epoch: 0 });
    const run = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
      return { code, out, err };
    };
    const list = await run('list', modelDir, '--json');
    expect([list.code, list.err]).toEqual([0, '']);
    const listed = JSON.parse(list.out) as { location: string; modelCheckpoints: { step: number; status: string }[] };
    expect(listed.modelCheckpoints.map((c) => [c.step, c.status])).toEqual([[3, 'ok']]);
    const verify = await run('verify', modelDir);
    expect([verify.code, verify.err]).toEqual([0, '']);
    const inspect = await run('inspect', `${modelDir}/model.ckpt-3`, '--json');
    expect([inspect.code, inspect.err]).toEqual([0, '']);
    await expectCheckpointsAt(form, 'cli', [3]);
  });
});

describe('a modelDir string that cannot be served is refused before training, and nothing is written anywhere', () => {
  const refusals: Array<[string, string, string]> = [
    [
      'gs://my-bucket/run',
      'UnsupportedModelDirError',
      'The modelDir "gs://my-bucket/run" uses the gs: scheme, which tfjs-resumable does not serve. Use a local path (or ' +
        'file://path), or s3://bucket/prefix for S3 and S3-compatible stores (GCS, MinIO, R2: set AWS_ENDPOINT_URL_S3 to ' +
        'their S3 endpoint).',
    ],
    [
      'http://127.0.0.1:9000/run',
      'UnsupportedModelDirError',
      'The modelDir "http://127.0.0.1:9000/run" uses the http: scheme, which tfjs-resumable does not serve. Use a local ' +
        'path (or file://path), or s3://bucket/prefix for S3 and S3-compatible stores (GCS, MinIO, R2: set ' +
        'AWS_ENDPOINT_URL_S3 to their S3 endpoint).',
    ],
    [
      's3:/my-bucket/run',
      'UnsupportedModelDirError',
      'The modelDir "s3:/my-bucket/run" uses the s3: scheme, which tfjs-resumable does not serve. Did you mean ' +
        's3://my-bucket/run? Use a local path (or file://path), or s3://bucket/prefix for S3 and S3-compatible stores ' +
        '(GCS, MinIO, R2: set AWS_ENDPOINT_URL_S3 to their S3 endpoint).',
    ],
    ['', 'UnsupportedModelDirError', 'The modelDir is an empty string: pass a directory path, a file:// URL or an s3://bucket/prefix URL.'],
    [
      's3:///run',
      'InvalidArgumentError',
      'Invalid S3 model directory "s3:///run": the bucket name is empty. Expected s3://<bucket>/<optional/key/prefix>, ' +
        'e.g. s3://my-bucket/runs/mnist; bucket names are 3-63 characters of lowercase letters, digits, "." and "-".',
    ],
    [
      's3://my bucket/run',
      'InvalidArgumentError',
      'Invalid S3 model directory "s3://my bucket/run": bucket name "my bucket" may only contain lowercase letters, ' +
        'digits, "." and "-". Expected s3://<bucket>/<optional/key/prefix>, e.g. s3://my-bucket/runs/mnist; bucket names ' +
        'are 3-63 characters of lowercase letters, digits, "." and "-".',
    ],
    [
      's3://my-bucket/runs/../other',
      'InvalidArgumentError',
      'Invalid S3 model directory "s3://my-bucket/runs/../other": the key prefix contains a ".." segment. Expected ' +
        's3://<bucket>/<optional/key/prefix>, e.g. s3://my-bucket/runs/mnist; bucket names are 3-63 characters of ' +
        'lowercase letters, digits, "." and "-".',
    ],
  ];

  it.each(refusals)('%j: resumableFit, the hooks, RunConfig, the Estimator and restoreLatest refuse it', async (modelDir, type, message) => {
    const calls: Array<[string, () => unknown]> = [
      ['resumableFit', () => resumableFit(model(), dataset(), { epochs: 1 }, { modelDir, saveSteps: 1, preemption: false })],
      ['CheckpointSaverHook', () => new CheckpointSaverHook(modelDir, { saveSteps: 1 })],
      ['CheckpointInputPipelineHook', () => new CheckpointInputPipelineHook({ modelDir, config: { saveCheckpointsSteps: 1 } })],
      ['RunConfig', () => new RunConfig({ modelDir }, {})],
      ['TF_CONFIG', () => new RunConfig({}, { TF_CONFIG: JSON.stringify({ model_dir: modelDir }) })],
      ['Estimator', () => new Estimator({ model: model(), modelDir })],
      ['restoreLatest', () => restoreLatest(model(), modelDir)],
      ['listCheckpoints', () => listCheckpoints(modelDir)],
    ];
    const seen: Array<[string, string, string]> = [];
    for (const [name, call] of calls) {
      try {
        await call();
        seen.push([name, 'no error', '']);
      } catch (e) {
        seen.push([name, (e as Error).name, (e as Error).message]);
      }
    }
    // An empty string in an Estimator is "no modelDir given", which it reports in its own words.
    const expected = calls.map(([name]): [string, string, string] =>
      modelDir === '' && (name === 'Estimator' || name === 'RunConfig' || name === 'TF_CONFIG')
        ? [name, name === 'Estimator' ? 'InvalidArgumentError' : 'UnsupportedModelDirError', name === 'Estimator' ? 'Estimator needs a modelDir (option or config.modelDir) to keep its checkpoints in.' : message]
        : [name, type, message],
    );
    expect(seen).toEqual(expected);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('a local path that is a file: a CheckpointError saying to pass a directory, before any step', async () => {
    fs.writeFileSync(path.join(cwd, 'run.txt'), 'not a directory');
    let steps = 0;
    const counting = new tf.CustomCallback({ onBatchEnd: async () => void steps++ });
    await expect(
      resumableFit(model(), dataset(), { epochs: 1, verbose: 0, callbacks: [counting] }, { modelDir: './run.txt', saveSteps: 1, preemption: false }),
    ).rejects.toThrow(`modelDir ${path.join(fs.realpathSync(cwd), 'run.txt')} is a file, not a directory: pass the path of a directory (it is created if missing).`);
    expect(steps).toBe(0);
    expect(fs.readdirSync(cwd)).toEqual(['run.txt']);
  });

  it('s3:// without credentials: S3CredentialsMissingError naming the variables, before any step', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    // No shared config files either: point the SDK at files that do not exist.
    const home = { AWS_SHARED_CREDENTIALS_FILE: process.env.AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE };
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(cwd, 'no-credentials');
    process.env.AWS_CONFIG_FILE = path.join(cwd, 'no-config');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    let steps = 0;
    const counting = new tf.CustomCallback({ onBatchEnd: async () => void steps++ });
    try {
      const error = await resumableFit(model(), dataset(), { epochs: 1, verbose: 0, callbacks: [counting] }, {
        modelDir: `s3://${server.bucket}/runs/no-credentials`,
        saveSteps: 1,
        preemption: false,
      }).then(
        () => null,
        (e: Error) => e,
      );
      expect(error?.name).toBe('S3CredentialsMissingError');
      expect(error?.message).toMatch(
        new RegExp(
          `^No AWS credentials found for s3://${server.bucket}/runs/no-credentials: set AWS_ACCESS_KEY_ID and ` +
            'AWS_SECRET_ACCESS_KEY \\(and AWS_SESSION_TOKEN for temporary keys\\), or AWS_PROFILE, or pass the credentials option\\. ' +
            '\\(CredentialsProviderError: ',
        ),
      );
      expect(steps).toBe(0);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      for (const [k, v] of Object.entries(home)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      delete process.env.AWS_EC2_METADATA_DISABLED;
    }
    expect(await forms[2].contents('no-credentials')).toEqual([]);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });
});
