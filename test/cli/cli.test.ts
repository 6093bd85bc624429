import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { crc32 } from '../../src/checkpoint/checksum';
import { restoreLatest } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { S3CheckpointStorage } from '../../src/checkpoint/s3_storage';
import { readCheckpointState } from '../../src/checkpoint/model_checkpoint';
import type { DatasetState, JsonValue } from '../../src/data/state';
import { main } from '../../src/cli';
import { formatBytes, formatNumber } from '../../src/cli/format';
import { RecordingLogger, tempDir, tinyModel } from '../checkpoint/helpers';
import { s3EnvFor, startS3Server } from '../helpers/s3_server';
import { FIXTURE_STEPS, ModelDirFixture, STEPS_PER_EPOCH, buildModelDir, sizeOf } from './fixture';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(...args: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

/**
 * Column padding is covered by format.test.ts; here lines are compared with runs of blanks inside a line
 * collapsed to one, so expectations can be written as plain text (leading indentation is kept exactly).
 */
function normalize(text: string): string[] {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => {
      const indent = /^ */.exec(line)?.[0] ?? '';
      return indent + line.slice(indent.length).replace(/ {2,}/g, ' ');
    });
}

let fixture: ModelDirFixture;
let dir: string;
const readOnly = (d: string): LocalCheckpointStorage => new LocalCheckpointStorage(d, { readOnly: true });
const createdAt = async (d: string, step: number): Promise<string> => (await readCheckpointState(readOnly(d), `model.ckpt-${step}`)).createdAt;
const mtime = (d: string, rel: string): string => new Date(fs.statSync(path.join(d, rel)).mtimeMs).toISOString();

beforeAll(async () => {
  dir = tempDir('cli');
  fixture = await buildModelDir(dir);
});

/** A copy of the fixture to damage. */
function copyFixture(tag: string): string {
  const copy = tempDir(`cli-${tag}`);
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/** The fixture pipeline's position after `step` elements: `range(0, 20).shuffle(8, 3).take(15)`, buffer full. */
function fixturePosition(step: number): { headline: string; details: string[] } {
  return {
    headline: 'shuffle buffer 8 of 8',
    details: [
      `take(count=15): ${step} of 15 taken`,
      'shuffle(bufferSize=8, seed=3, reshuffleEachIteration=true): shuffle buffer 8 of 8',
      // The shuffle has read its 8 buffered elements plus the `step` it delivered.
      `range(start=0, end=20, step=1): at element ${8 + step} of 20`,
    ],
  };
}

function expectedStateView(state: DatasetState, position: { headline: string; details: string[] }): JsonValue {
  return {
    formatVersion: state.formatVersion,
    ops: JSON.parse(state.fingerprint) as string[],
    dataset: state.dataset,
    iterator: state.iterator,
    blobBytes: state.blob?.byteLength ?? 0,
    position,
  };
}

function expectedStateLines(state: DatasetState, position: { headline: string; details: string[] }, rngs: number, indent: string): string[] {
  const ops = JSON.parse(state.fingerprint) as string[];
  return [
    `${indent}state format version 2`,
    `${indent}pipeline (${ops.length} ops):`,
    ...ops.map((op, i) => `${indent}  ${i + 1}. ${op}`),
    `${indent}position: ${position.headline}`,
    ...position.details.map((d) => `${indent}  ${d}`),
    `${indent}shuffle reseeding: ${rngs === 0 ? 'none (no shuffle)' : `${rngs} RNG state saved (raw values in --json)`}`,
  ];
}

function stats(values: Float32Array): { min: number; max: number; mean: number } {
  let sum = 0;
  for (const v of values) sum += v;
  return { min: Math.min(...values), max: Math.max(...values), mean: sum / values.length };
}

describe('list', () => {
  test('human table: model checkpoints with latest marker, epochs, sizes, then each input series', async () => {
    const r = await run('list', dir);
    expect(r).toMatchObject({ code: 0, err: '' });
    const index = (step: number, latest: number) => (step === latest ? 'latest' : 'indexed');
    expect(normalize(r.out)).toEqual([
      `Model checkpoints (model.ckpt-<step>) in ${dir}`,
      '  checkpoint epoch size created index status',
      ...(await Promise.all(
        FIXTURE_STEPS.map(
          async (step) =>
            `  model.ckpt-${step} ${Math.floor(step / STEPS_PER_EPOCH)} ${formatBytes(sizeOf(dir, `model.ckpt-${step}`))} ` +
            `${await createdAt(dir, step)} ${index(step, 6)} ok`,
        ),
      )),
      '',
      'Input checkpoints (input.ckpt-<step>, index checkpoint_input)',
      '  checkpoint size modified index status',
      ...FIXTURE_STEPS.map(
        (step) =>
          `  input.ckpt-${step} ${formatBytes(sizeOf(dir, `input.ckpt-${step}`))} ${mtime(dir, `input.ckpt-${step}`)} ${index(step, 6)} ok`,
      ),
      '',
      'Input checkpoints (input_worker_1.ckpt-<step>, index checkpoint_input_worker_1)',
      '  checkpoint size modified index status',
      `  input_worker_1.ckpt-6 ${formatBytes(sizeOf(dir, 'input_worker_1.ckpt-6'))} ${mtime(dir, 'input_worker_1.ckpt-6')} latest ok`,
    ]);
  });

  test('--json: stable fields for every model and input checkpoint', async () => {
    const r = await run('list', dir, '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const input = (prefix: string, indexName: string, steps: number[]) => ({
      indexName,
      prefix,
      indexStatus: 'ok',
      checkpoints: steps.map((step) => ({
        indexName,
        prefix,
        step,
        path: `${prefix}-${step}`,
        sizeBytes: sizeOf(dir, `${prefix}-${step}`),
        modifiedAt: mtime(dir, `${prefix}-${step}`),
        inIndex: true,
        latest: step === steps[steps.length - 1],
        status: 'ok',
      })),
    });
    expect(JSON.parse(r.out)).toEqual({
      schemaVersion: 1,
      location: dir,
      modelIndex: { status: 'ok' },
      modelCheckpoints: await Promise.all(
        FIXTURE_STEPS.map(async (step) => ({
          step,
          path: `model.ckpt-${step}`,
          epoch: Math.floor(step / STEPS_PER_EPOCH),
          sizeBytes: sizeOf(dir, `model.ckpt-${step}`),
          createdAt: await createdAt(dir, step),
          inIndex: true,
          latest: step === 6,
          status: 'ok',
          extras: ['input_pipeline', 'fit_position'],
        })),
      ),
      inputSeries: [
        input('input.ckpt', 'checkpoint_input', FIXTURE_STEPS),
        input('input_worker_1.ckpt', 'checkpoint_input_worker_1', [6]),
      ],
    });
  });

  test('shows an orphaned checkpoint (not in the index) and a corrupt input blob, and exits 1 for the corrupt one', async () => {
    const copy = copyFixture('orphan');
    fs.cpSync(path.join(copy, 'model.ckpt-4'), path.join(copy, 'model.ckpt-5'), { recursive: true });
    fs.writeFileSync(path.join(copy, 'input.ckpt-2'), 'garbage');
    const r = await run('list', copy, '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out) as { modelCheckpoints: Array<Record<string, JsonValue>>; inputSeries: Array<{ checkpoints: Array<Record<string, JsonValue>> }> };
    // A copied directory keeps step 4's state.json: the step it records does not match its name.
    expect(out.modelCheckpoints.map((c) => [c.path, c.inIndex, c.status])).toEqual([
      ['model.ckpt-2', true, 'ok'],
      ['model.ckpt-4', true, 'ok'],
      ['model.ckpt-5', false, 'ok'],
      ['model.ckpt-6', true, 'ok'],
    ]);
    expect(out.inputSeries[0].checkpoints[0]).toMatchObject({
      path: 'input.ckpt-2',
      status: 'corrupt',
      reason: `${copy}/input.ckpt-2 is truncated: 7 bytes, shorter than its 20-byte header.`,
    });
    const humanRun = await run('list', copy);
    expect(humanRun.code).toBe(1);
    const human = normalize(humanRun.out);
    expect(human).toContain(`  model.ckpt-5 1 ${formatBytes(sizeOf(copy, 'model.ckpt-5'))} ${await createdAt(copy, 5)} orphaned ok`);
    expect(human).toContain(`  input.ckpt-2 7 B ${mtime(copy, 'input.ckpt-2')} indexed CORRUPT`);
    expect(human).toContain(`  input.ckpt-2: ${copy}/input.ckpt-2 is truncated: 7 bytes, shorter than its 20-byte header.`);
  });
});

describe('inspect', () => {
  async function expectedModelLines(d: string, step: number): Promise<string[]> {
    const state = await readCheckpointState(readOnly(d), `model.ckpt-${step}`);
    const weightRows = fixture.finalWeights.map((w) => {
      const s = stats(w.values);
      return `  ${w.name} [${w.shape.join(',')}] float32 ${formatBytes(w.values.length * 4)} ${formatNumber(s.min)} ${formatNumber(s.max)} ${formatNumber(s.mean)} 0`;
    });
    const slot = (suffix: string) => fixture.finalWeights.map((w) => `  ${w.name}/${suffix} [${w.shape.join(',')}] float32 ${formatBytes(w.values.length * 4)}`);
    const pipeline = fixture.states.get(step) as DatasetState;
    return [
      `Model checkpoint ${d}/model.ckpt-${step}`,
      '  format version 1',
      `  global step ${step}`,
      `  epoch ${Math.floor(step / STEPS_PER_EPOCH)}`,
      '  backend cpu',
      `  created at ${state.createdAt}`,
      '',
      'Files (sizes and CRC-32s recorded in state.json, all verified)',
      '  name size crc32',
      // In the order state.json records them: the order they are made durable, weights.bin last.
      ...['model.json', 'optimizer.bin', 'extra-input_pipeline.bin', 'extra-fit_position.bin', 'weights.bin'].map(
        (name) =>
          `  ${name} ${formatBytes(sizeOf(d, `model.ckpt-${step}/${name}`))} ${state.files[name].crc32.toString(16).padStart(8, '0')}`,
      ),
      '',
      `Weights (4 tensors, 37 values, 148 B)`,
      '  name shape dtype size min max mean non-finite',
      ...weightRows,
      '',
      `Optimizer Adam, iteration ${step} (9 variables)`,
      '  name shape dtype size',
      '  iter [] int32 4 B',
      ...slot('m'),
      ...slot('v'),
      '  kept outside getWeights(): accBeta1 [], accBeta2 []',
      '',
      'Extras (2)',
      `  input_pipeline (${formatBytes(sizeOf(d, `model.ckpt-${step}/extra-input_pipeline.bin`) - 20)}): input pipeline state`,
      ...expectedStateLines(pipeline, fixturePosition(step), 1, '    '),
      `  fit_position (27 B): resumableFit position: epoch ${Math.floor(step / STEPS_PER_EPOCH)} (0-based, as tfjs counts), ${step % STEPS_PER_EPOCH} batches of it done`,
    ];
  }

  test('a model checkpoint directory: state, files, weights with stats, optimizer, decoded extras', async () => {
    const r = await run('inspect', path.join(dir, 'model.ckpt-6'));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(normalize(r.out)).toEqual(normalize((await expectedModelLines(dir, 6)).join('\n')));
  });

  test('a model checkpoint --json: exact stats and decoded pipeline state', async () => {
    const r = await run('inspect', path.join(dir, 'model.ckpt-6'), '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const state = await readCheckpointState(readOnly(dir), 'model.ckpt-6');
    const spec = (name: string, shape: number[], dtype = 'float32') => ({
      name,
      shape,
      dtype,
      bytes: shape.reduce((n, d) => n * d, 1) * 4,
    });
    expect(JSON.parse(r.out)).toEqual({
      schemaVersion: 1,
      kind: 'model',
      location: dir,
      path: 'model.ckpt-6',
      state: {
        formatVersion: 1,
        globalStep: 6,
        epoch: 2,
        backend: 'cpu',
        fingerprint: { backend: 'cpu', tfjs: tf.version_core },
        createdAt: state.createdAt,
        files: state.files,
      },
      weights: fixture.finalWeights.map((w) => ({ ...spec(w.name, w.shape), ...stats(w.values), nonFinite: 0 })),
      optimizer: {
        className: 'Adam',
        iteration: 6,
        weights: [
          spec('iter', [], 'int32'),
          ...fixture.finalWeights.map((w) => spec(`${w.name}/m`, w.shape)),
          ...fixture.finalWeights.map((w) => spec(`${w.name}/v`, w.shape)),
        ],
        hidden: [spec('accBeta1', []), spec('accBeta2', [])],
      },
      extras: [
        {
          name: 'input_pipeline',
          sizeBytes: sizeOf(dir, 'model.ckpt-6/extra-input_pipeline.bin') - 20,
          kind: 'dataset-state',
          datasetState: expectedStateView(fixture.states.get(6) as DatasetState, fixturePosition(6)),
        },
        { name: 'fit_position', sizeBytes: 27, kind: 'fit-position', fitPosition: { epoch: 2, stepInEpoch: 0 } },
      ],
    });
  });

  test('an input checkpoint file: every pipeline state decoded', async () => {
    const r = await run('inspect', path.join(dir, 'input.ckpt-4'));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(normalize(r.out)).toEqual(
      normalize(
        [
          `Input checkpoint ${dir}/input.ckpt-4`,
          '  index checkpoint_input',
          '  step 4',
          `  size ${formatBytes(sizeOf(dir, 'input.ckpt-4'))}`,
          '  pipelines 1',
          '',
          'Pipeline 1 of 1',
          ...expectedStateLines(fixture.states.get(4) as DatasetState, fixturePosition(4), 1, '  '),
        ].join('\n'),
      ),
    );
    const j = await run('inspect', path.join(dir, 'input_worker_1.ckpt-6'), '--json');
    expect(JSON.parse(j.out)).toEqual({
      schemaVersion: 1,
      kind: 'input',
      location: dir,
      path: 'input_worker_1.ckpt-6',
      indexName: 'checkpoint_input_worker_1',
      prefix: 'input_worker_1.ckpt',
      step: 6,
      sizeBytes: sizeOf(dir, 'input_worker_1.ckpt-6'),
      pipelines: [expectedStateView(fixture.workerState, { headline: 'at element 1 of 10', details: ['range(start=100, end=110, step=1): at element 1 of 10'] })],
    });
  });

  test('a modelDir: its latest model checkpoint', async () => {
    const byDir = await run('inspect', dir);
    expect(byDir.code).toBe(0);
    expect(byDir.out).toBe((await run('inspect', path.join(dir, 'model.ckpt-6'))).out);
  });

  test('a corrupt checkpoint: one clear message, exit 1; a missing one: exit 2', async () => {
    const copy = copyFixture('inspect-corrupt');
    fs.writeFileSync(path.join(copy, 'model.ckpt-4', 'optimizer.bin'), 'x');
    const state = await readCheckpointState(readOnly(copy), 'model.ckpt-4');
    expect(await run('inspect', path.join(copy, 'model.ckpt-4'))).toEqual({
      code: 1,
      out: '',
      err: `error: ${copy}/model.ckpt-4/optimizer.bin is 1 bytes but state.json records ${state.files['optimizer.bin'].size}: it was truncated or altered.\n`,
    });
    const expected = 'expected a model checkpoint directory (model.ckpt-<step>), an input checkpoint file (input.ckpt-<step>) or a modelDir holding model checkpoints.';
    expect(await run('inspect', path.join(copy, 'model.ckpt-8'))).toEqual({
      code: 2,
      out: '',
      err: `error: ${copy}/model.ckpt-8 does not exist: ${expected}\n`,
    });
    expect(await run('inspect', path.join(copy, 'input.ckpt-9'))).toEqual({
      code: 2,
      out: '',
      err: `error: ${copy}/input.ckpt-9 does not exist: ${expected}\n`,
    });
    expect(await run('inspect', path.join(copy, 'nope', 'model.ckpt-8'))).toEqual({
      code: 2,
      out: '',
      err: `error: ${copy}/nope/model.ckpt-8 does not exist: ${expected}\n`,
    });
    const empty = tempDir('cli-empty');
    expect(await run('inspect', empty)).toEqual({ code: 2, out: '', err: `error: ${empty} holds no model checkpoint: ${expected}\n` });
  });
});

describe('verify', () => {
  test('a healthy modelDir: every checkpoint ok, exit 0', async () => {
    const r = await run('verify', dir);
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'model.ckpt-2           ok',
        'model.ckpt-4           ok',
        'model.ckpt-6           ok',
        'input.ckpt-2           ok',
        'input.ckpt-4           ok',
        'input.ckpt-6           ok',
        'input_worker_1.ckpt-6  ok',
        '',
        'Restore would use model.ckpt-6.',
        'All 7 checkpoints are ok.',
        '',
      ].join('\n'),
    });
  });

  test('one flipped bit in the newest weights.bin: exit 1, names the file and the fallback restore really uses', async () => {
    const copy = copyFixture('bitflip');
    const weights = path.join(copy, 'model.ckpt-6', 'weights.bin');
    const bytes = fs.readFileSync(weights);
    bytes[37] ^= 0x04;
    fs.writeFileSync(weights, bytes);
    const recorded = (await readCheckpointState(readOnly(copy), 'model.ckpt-6')).files['weights.bin'].crc32;
    const reason =
      `${weights} failed its checksum (crc32 ${crc32(bytes).toString(16)}, state.json records ${recorded.toString(16)}): ` +
      'the file was corrupted.';
    const r = await run('verify', copy);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out.split('\n')).toEqual([
      'model.ckpt-2           ok',
      'model.ckpt-4           ok',
      `model.ckpt-6           CORRUPT: ${reason}`,
      'input.ckpt-2           ok',
      'input.ckpt-4           ok',
      'input.ckpt-6           ok',
      'input_worker_1.ckpt-6  ok',
      '',
      'Restore would fall back to model.ckpt-4 (skipping corrupt model.ckpt-6).',
      '1 of 7 checked are corrupt.',
      '',
    ]);
    const j = JSON.parse((await run('verify', copy, '--json')).out) as Record<string, JsonValue>;
    expect(j.ok).toBe(false);
    expect(j.restore).toEqual({ modelCheckpoint: 'model.ckpt-4', fallback: true, skipped: ['model.ckpt-6'] });
    expect((j.modelCheckpoints as JsonValue[])[2]).toMatchObject({ path: 'model.ckpt-6', status: 'corrupt', reason });
    // The prediction is what restoreLatest really does.
    const logger = new RecordingLogger();
    expect((await restoreLatest(tinyModel(), copy, { logger }))?.path).toBe('model.ckpt-4');
  });

  test('a truncated input checkpoint: exit 1, names it and the newest intact one', async () => {
    const copy = copyFixture('truncated');
    const blob = path.join(copy, 'input.ckpt-6');
    const size = fs.statSync(blob).size;
    fs.truncateSync(blob, size - 10);
    const r = await run('verify', copy);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')).toEqual([
      'model.ckpt-2           ok',
      'model.ckpt-4           ok',
      'model.ckpt-6           ok',
      'input.ckpt-2           ok',
      'input.ckpt-4           ok',
      `input.ckpt-6           CORRUPT: ${blob} is truncated or padded: its header announces ${size - 20} payload bytes, the file holds ${size - 30}.`,
      'input_worker_1.ckpt-6  ok',
      '',
      'Restore would use model.ckpt-6.',
      'Newest intact input checkpoint in checkpoint_input: input.ckpt-4.',
      '1 of 7 checked are corrupt.',
      '',
    ]);
    const j = JSON.parse((await run('verify', copy, '--json')).out) as Record<string, JsonValue>;
    expect(j.inputRestore).toEqual([
      { indexName: 'checkpoint_input', checkpoint: 'input.ckpt-4' },
      { indexName: 'checkpoint_input_worker_1', checkpoint: 'input_worker_1.ckpt-6' },
    ]);
  });

  test('a corrupt model index is reported, restore scans the directories', async () => {
    const copy = copyFixture('index');
    fs.writeFileSync(path.join(copy, 'checkpoint'), '{"not":"checksummed"}');
    const r = await run('verify', copy);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(`checkpoint (index)     CORRUPT: Index ${copy}/checkpoint has no checksum field.`);
    expect(lines).toContain('Restore would use model.ckpt-6.');
  });
});

describe('exit codes and messages as a user reads them (issue 10 item 6)', () => {
  test('list: a truncated weights.bin is CORRUPT (not ok) and the exit code is 1, text and --json', async () => {
    const copy = copyFixture('truncated');
    const weights = path.join(copy, 'model.ckpt-4', 'weights.bin');
    const full = fs.statSync(weights).size;
    fs.truncateSync(weights, full - 10);
    const reason = `${copy}/model.ckpt-4/weights.bin is ${full - 10} bytes, state.json records ${full} bytes: truncated or damaged (run verify).`;
    const text = await run('list', copy);
    expect(text.code).toBe(1);
    expect(normalize(text.out)).toContain(
      `  model.ckpt-4 1 ${formatBytes(sizeOf(copy, 'model.ckpt-4'))} ${await createdAt(copy, 4)} indexed CORRUPT`,
    );
    expect(normalize(text.out)).toContain(`  model.ckpt-4: ${reason}`);
    const j = await run('list', copy, '--json');
    expect(j.code).toBe(1);
    const entry = (JSON.parse(j.out) as { modelCheckpoints: Array<Record<string, JsonValue>> }).modelCheckpoints[1];
    expect({ path: entry.path, status: entry.status, reason: entry.reason }).toEqual({ path: 'model.ckpt-4', status: 'corrupt', reason });
  });

  test('list: when the data position rides inside the model checkpoints, it says so instead of "none"', async () => {
    const copy = copyFixture('position-in-model');
    for (const name of fs.readdirSync(copy)) if (name.startsWith('input') || name.startsWith('checkpoint_input')) fs.rmSync(path.join(copy, name));
    const r = await run('list', copy);
    expect(r.code).toBe(0);
    const lines = normalize(r.out);
    expect(lines[lines.length - 1]).toBe('Input position: inside the model checkpoints (extra input_pipeline and fit_position), restored with the weights; see inspect');
    expect(lines).not.toContain('Input checkpoints: none');
  });

  test('an unreadable modelDir exits 2 with the reason, as the help says (a real process, another user)', () => {
    const locked = tempDir('cli-unreadable');
    fs.mkdirSync(path.join(locked, 'model.ckpt-1'));
    fs.chmodSync(locked, 0o700);
    const asRoot = process.getuid?.() === 0;
    // root reads everything: run the CLI as `nobody`; any other user is locked out by mode 000.
    if (!asRoot) fs.chmodSync(locked, 0o000);
    try {
      const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, '..', '..', 'src', 'cli.ts'), 'list', locked], {
        encoding: 'utf8',
        timeout: 30000,
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
      expect(r.stderr).toMatch(new RegExp(`^error: EACCES: permission denied, \\w+ '${locked}[^']*': this user cannot read that path; fix its permissions or run as a user who can\\.\n$`));
    } finally {
      fs.chmodSync(locked, 0o700);
    }
  }, 40000);

  test('--json: every error is a JSON document on stdout with the same exit code (2 missing, 2 usage, 1 corrupt)', async () => {
    const missing = path.join(dir, 'does-not-exist');
    const notFound = await run('list', missing, '--json');
    expect({ code: notFound.code, err: notFound.err, out: JSON.parse(notFound.out) as JsonValue }).toEqual({
      code: 2,
      err: '',
      out: {
        schemaVersion: 1,
        error: { exitCode: 2, type: 'CheckpointNotFoundError', message: `${missing} does not exist: expected the modelDir of a tfjs-resumable training run.` },
      },
    });
    const usage = await run('verify', '--json');
    expect({ code: usage.code, err: usage.err, out: JSON.parse(usage.out) as JsonValue }).toEqual({
      code: 2,
      err: '',
      out: { schemaVersion: 1, error: { exitCode: 2, type: 'UsageError', message: "missing required argument 'modelDir'" } },
    });
    const copy = copyFixture('json-corrupt');
    fs.writeFileSync(path.join(copy, 'model.ckpt-4', 'optimizer.bin'), 'x');
    const state = await readCheckpointState(readOnly(copy), 'model.ckpt-4');
    const corrupt = await run('inspect', path.join(copy, 'model.ckpt-4'), '--json');
    expect({ code: corrupt.code, err: corrupt.err, out: JSON.parse(corrupt.out) as JsonValue }).toEqual({
      code: 1,
      err: '',
      out: {
        schemaVersion: 1,
        error: {
          exitCode: 1,
          type: 'CorruptCheckpointError',
          message: `${copy}/model.ckpt-4/optimizer.bin is 1 bytes but state.json records ${state.files['optimizer.bin'].size}: it was truncated or altered.`,
        },
      },
    });
  });
});

describe('errors and help', () => {
  test('a path that does not exist: exit 2, one line naming it, no stack', async () => {
    const missing = path.join(dir, 'does-not-exist');
    for (const command of ['list', 'verify']) {
      expect(await run(command, missing)).toEqual({
        code: 2,
        out: '',
        err: `error: ${missing} does not exist: expected the modelDir of a tfjs-resumable training run.\n`,
      });
    }
    const empty = tempDir('cli-nothing');
    expect(await run('verify', empty)).toEqual({
      code: 2,
      out: '',
      err:
        `error: ${empty} holds no checkpoints (no "checkpoint" index, no model.ckpt-<step> directories, ` +
        'no input.ckpt-<step> files): expected the modelDir of a tfjs-resumable training run.\n',
    });
    const file = path.join(dir, 'checkpoint');
    const r = await run('list', file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: modelDir ${file} is a file, not a directory: pass the path of a directory (it is created if missing).\n`);
  });

  test('usage errors exit 2; --help lists the three commands; --version prints package.json', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: tfjs-resumable \[options\] \[command\]/);
    for (const command of ['list [options] <modelDir>', 'inspect [options] <path>', 'verify [options] <modelDir>']) {
      expect(help.out).toContain(command);
    }
    const verifyHelp = await run('verify', '--help');
    expect(verifyHelp.code).toBe(0);
    expect(verifyHelp.out).toContain('Exit codes: 0 ok, 1 a checkpoint is corrupt, 2 usage error or missing/unreadable path, 3 unexpected error.');
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(await run('--version')).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    expect(await run('lsit', dir)).toMatchObject({ code: 2, out: '', err: expect.stringContaining("error: unknown command 'lsit'") });
    expect(await run('verify')).toMatchObject({ code: 2, err: "error: missing required argument 'modelDir'\n" });
    expect((await run()).code).toBe(2);
  });

  test('an unexpected error prints its stack and exits 3', async () => {
    const spy = jest.spyOn(LocalCheckpointStorage.prototype, 'list').mockRejectedValue(new TypeError('disk on fire'));
    try {
      const r = await run('list', dir);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/^unexpected error \(please report it\): TypeError: disk on fire\n\s+at /);
    } finally {
      spy.mockRestore();
    }
  });
});

test('the real executable: shebang, entry point, exit code', () => {
  const cli = path.join(__dirname, '..', '..', 'src', 'cli.ts');
  expect(fs.readFileSync(cli, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  const tsx = require.resolve('tsx/cli');
  const ok = spawnSync(process.execPath, [tsx, cli, 'verify', dir], { encoding: 'utf8', timeout: 30000 });
  expect(ok.stderr).toBe('');
  expect(ok.status).toBe(0);
  expect(ok.stdout).toContain('All 7 checkpoints are ok.');
  const bad = spawnSync(process.execPath, [tsx, cli, 'list', path.join(dir, 'nope')], { encoding: 'utf8', timeout: 30000 });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toBe(`error: ${path.join(dir, 'nope')} does not exist: expected the modelDir of a tfjs-resumable training run.\n`);
}, 40000);

test('an s3:// modelDir lists like the local one', async () => {
  const server = await startS3Server('cli-bucket');
  const saved = { ...process.env };
  Object.assign(process.env, { ...s3EnvFor(server), AWS_REGION: 'us-east-1' });
  const s3 = new S3CheckpointStorage('s3://cli-bucket/runs/a');
  try {
    const local = readOnly(dir);
    for (const rel of await local.list('')) await s3.writeAtomic(rel, await local.read(rel));
    const r = await run('list', 's3://cli-bucket/runs/a', '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const fromS3 = JSON.parse(r.out) as Record<string, JsonValue>;
    const fromDisk = JSON.parse((await run('list', dir, '--json')).out) as Record<string, JsonValue>;
    const withoutTimes = (v: JsonValue): JsonValue => JSON.parse(JSON.stringify(v, (k, x: JsonValue) => (k === 'modifiedAt' ? null : x)));
    expect(fromS3.location).toBe('s3://cli-bucket/runs/a');
    expect(withoutTimes(fromS3.modelCheckpoints)).toEqual(withoutTimes(fromDisk.modelCheckpoints));
    expect(withoutTimes(fromS3.inputSeries)).toEqual(withoutTimes(fromDisk.inputSeries));
    const inspected = await run('inspect', 's3://cli-bucket/runs/a/model.ckpt-6', '--json');
    expect(inspected.code).toBe(0);
    expect(JSON.parse(inspected.out)).toEqual({
      ...(JSON.parse((await run('inspect', path.join(dir, 'model.ckpt-6'), '--json')).out) as object),
      location: 's3://cli-bucket/runs/a',
    });
    expect(await run('list', 's3://cli-bucket/runs/nothing-here')).toMatchObject({ code: 2, err: expect.stringContaining('s3://cli-bucket/runs/nothing-here holds no checkpoints') });
  } finally {
    s3.destroy();
    process.env = saved;
    await server.stop();
  }
});
