import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';
import { restoreLatest } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { main } from '../../src/cli';
import { resumableFit } from '../../src/estimator/resumable_fit';
import { CheckpointInputPipelineHook } from '../../src/hooks/checkpoint_input_pipeline_hook';
import { CheckpointSaverHook } from '../../src/hooks/checkpoint_saver_hook';
import { CheckpointSaverListener } from '../../src/hooks/checkpoint_saver_listener';
import { SessionRunContext, SessionRunHook } from '../../src/hooks/session_run_hook';
import { TrainingSession } from '../../src/hooks/training_session';
import { CaseTally, DelegatingStorage, RecordingLogger, batch, tempDir, tinyModel, weightBytes } from '../checkpoint/helpers';
import { CrashState, RecordingFs, forEachCrashState, variantName } from './crash_fs';

// Every crash state of every save (issue 14): the writers run once on a real directory through a recording
// FsLayer; every prefix of their file-system operations, with unsynced data dropped or cut, unsynced
// directory entries undone and the last write torn, is written out and must restore the last acknowledged
// checkpoint or the one being written, through restoreLatest, `verify` and a resumed run.

const tally = new CaseTally();
afterAll(() => tally.print('crash_states'));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Steps of the recorded runs, saves every SAVE_STEPS (the timer fires at the first step, as TF's), two kept:
 * the third save deletes the first.
 */
const TOTAL_STEPS = 5;
const SAVE_STEPS = 2;
const KEEP = 2;
/** resumableFit's run: two epochs of three batches. */
const FIT_STEPS = 6;

function stepOf(label: string): number {
  return Number(label.slice(label.lastIndexOf('-') + 1));
}

/**
 * The steps a reader may see in `state`: the newest acknowledged one or any begun after it; `null` (a
 * fresh start) only when nothing was acknowledged.
 */
function allowedSteps(state: CrashState): Array<number | null> {
  const acked = state.acknowledged.map(stepOf);
  const newest = acked.length > 0 ? Math.max(...acked) : null;
  const later = state.started.map(stepOf).filter((s) => newest === null || s >= newest);
  return newest === null ? [null, ...later] : [...new Set([newest, ...later])];
}

function describeState(writer: string, state: CrashState): string {
  return `${writer}, prefix ${state.prefix}, ${variantName(state.variant)}, acknowledged [${state.acknowledged}], begun [${state.started}]`;
}

/** `verify --json` through the CLI entry: the exit code and its restore plans. */
async function verify(dir: string): Promise<{ code: number; json: { ok: boolean; restore: { modelCheckpoint: string | null }; inputRestore: Array<{ indexName: string; checkpoint: string | null }>; modelCheckpoints: Array<{ step: number; status: string }> } | null; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['verify', dir, '--json'], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  // With --json, a failure (e.g. no modelDir yet) is a JSON `{ error }` document instead of a report.
  const parsed = stdout === '' ? null : (JSON.parse(stdout) as { error?: unknown });
  const failure = parsed?.error !== undefined ? JSON.stringify(parsed.error) : '';
  return { code, json: parsed === null || parsed.error !== undefined ? null : (parsed as never), stderr: stderr + failure };
}

/** Marks the saver's begin and acknowledgement of each save in the operation log. */
class MarkingListener extends CheckpointSaverListener {
  constructor(private readonly fsRecorder: RecordingFs) {
    super();
  }
  override beforeSave(_session: TrainingSession, step: number): void {
    this.fsRecorder.begin(`model-${step}`);
  }
  override afterSave(_session: TrainingSession, step: number): void {
    this.fsRecorder.ack(`model-${step}`);
  }
}

/** Drives hooks through their lifecycle on the fixed batches of test/checkpoint/helpers. */
async function trainWithHooks(model: tf.LayersModel, session: TrainingSession, hooks: SessionRunHook[], to: number, afterStep?: () => Promise<void>): Promise<void> {
  for (const h of hooks) await h.begin();
  for (const h of hooks) await h.afterCreateSession(session);
  while (session.globalStep < to) {
    const [xs, ys] = batch(session.globalStep);
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
    session.globalStep += 1;
    await afterStep?.();
    const ctx = new SessionRunContext(undefined, session);
    for (const h of hooks) await h.afterRun(ctx, { results: {} });
  }
  for (const h of hooks) await h.end(session);
}

/** Runs the enumeration over a recorded run and prints and tallies the figures of one writer. */
async function enumerate(writer: string, baseDir: string, recorder: RecordingFs, check: (dir: string, state: CrashState) => Promise<void>): Promise<void> {
  const result = await forEachCrashState(baseDir, recorder.ops, tempDir(`crash-${writer}`), check);
  const mutations = recorder.ops.filter((op) => op.kind !== 'mark').length;
  console.log(
    `${writer} (no RNG: every state is enumerated; data seeds fixed in the test): ${mutations} file-system operations ` +
      `recorded; crash states: ${result.tried} tried, ${result.passed} passed (${result.distinct} distinct on disk)`,
  );
  for (let i = 0; i < result.tried; i++) {
    await tally.run(`${writer} crash states`, () => {
      if (i >= result.passed) throw new Error('failed');
    }).catch(() => undefined);
  }
  expect(result.failures.slice(0, 5).map((f) => `${describeState(writer, f.state)}: ${f.error}`)).toEqual([]);
  expect(result.passed).toBe(result.tried);
}

describe('crash states of every save', () => {
  it('CheckpointSaverHook (background: false): every crash state restores the acknowledged or the new checkpoint', async () => {
    const liveDir = tempDir('crash-saver-live');
    const baseDir = tempDir('crash-saver-base');
    const recorder = new RecordingFs(liveDir);
    const reference: number[][][] = [];
    const model = tinyModel();
    reference[0] = weightBytes(model);
    const saver = new CheckpointSaverHook(new LocalCheckpointStorage(liveDir, { fs: recorder }), {
      saveSteps: SAVE_STEPS,
      keepCheckpointMax: KEEP,
      background: false,
      listeners: [new MarkingListener(recorder)],
    });
    const session = new TrainingSession(model, {});
    await trainWithHooks(model, session, [saver], TOTAL_STEPS, async () => {
      reference[session.globalStep] = weightBytes(model);
    });
    expect(recorder.ops.filter((op) => op.kind === 'mark')).toEqual(
      [1, 3, 5].flatMap((s) => [{ kind: 'mark', event: 'begin', label: `model-${s}` }, { kind: 'mark', event: 'ack', label: `model-${s}` }]),
    );

    await enumerate('CheckpointSaverHook', baseDir, recorder, async (dir, state) => {
      const allowed = allowedSteps(state);
      const logger = new RecordingLogger();
      const restoredModel = tinyModel();
      const restored = await restoreLatest(restoredModel, dir, { logger });
      const step = restored?.globalStep ?? null;
      if (!allowed.includes(step)) throw new Error(`restoreLatest gave step ${step}, allowed ${JSON.stringify(allowed)}`);
      expect(weightBytes(restoredModel)).toEqual(reference[step ?? 0]);
      await expectVerifyAgrees(dir, step, state);
      // The resumed run: continue from there to the end with a new saver; its checkpoint is the final one.
      const resumed = new TrainingSession(restoredModel, { globalStep: step ?? 0 });
      const resumedSaver = new CheckpointSaverHook(dir, { saveSteps: SAVE_STEPS, keepCheckpointMax: KEEP, background: false, logger });
      await trainWithHooks(restoredModel, resumed, [resumedSaver], TOTAL_STEPS);
      expect(weightBytes(restoredModel)).toEqual(reference[TOTAL_STEPS]);
      const again = tinyModel();
      expect((await restoreLatest(again, dir, { logger }))?.globalStep).toBe(TOTAL_STEPS);
      expect(weightBytes(again)).toEqual(reference[TOTAL_STEPS]);
    });
  }, 600_000);

  it('CheckpointInputPipelineHook: every crash state restores the acknowledged or the new input position', async () => {
    const liveDir = tempDir('crash-input-live');
    const baseDir = tempDir('crash-input-base');
    const recorder = new RecordingFs(liveDir);
    const pipeline = (): data.CheckpointableDataset<number> => data.range(0, 40).shuffle(6, 11);
    const referenceOrder: number[] = [];
    for await (const x of iterate(pipeline(), 40)) referenceOrder.push(x);

    const storage = new IndexAckingStorage(new LocalCheckpointStorage(liveDir, { fs: recorder }), recorder);
    const estimator = { modelDir: liveDir, config: { saveCheckpointsSteps: SAVE_STEPS, keepCheckpointMax: KEEP } };
    const recorded = await runInputHook(pipeline(), new CheckpointInputPipelineHook(estimator, { storage, logger: new RecordingLogger(), background: false }), 0, TOTAL_STEPS);
    expect(recorded).toEqual(referenceOrder.slice(0, TOTAL_STEPS));
    expect(recorder.ops.filter((op) => op.kind === 'mark' && op.event === 'ack').map((op) => (op as { label: string }).label)).toEqual(
      ['input-0', 'input-1', 'input-3', 'input-5'],
    );

    await enumerate('CheckpointInputPipelineHook', baseDir, recorder, async (dir, state) => {
      const allowed = allowedSteps(state).map((s) => s ?? 0);
      const logger = new RecordingLogger();
      const resumeEstimator = { modelDir: dir, config: { saveCheckpointsSteps: SAVE_STEPS, keepCheckpointMax: KEEP } };
      const plan = await verify(dir);
      // No model checkpoint names a step here: the hook resumes from its newest usable input checkpoint.
      const ds = pipeline();
      const hook = new CheckpointInputPipelineHook(resumeEstimator, { logger });
      const session = new TrainingSession(tinyModel(), { globalStep: Number.MAX_SAFE_INTEGER, datasets: [ds] });
      await hook.begin();
      await hook.afterCreateSession(session);
      const it = await ds.iterator();
      const next = (await it.next()).value as number;
      const step = referenceOrder.indexOf(next);
      if (!allowed.includes(step)) throw new Error(`the input hook resumed at step ${step}, allowed ${JSON.stringify(allowed)}`);
      const planned = plan.json?.inputRestore.find((p) => p.indexName === 'checkpoint_input')?.checkpoint ?? null;
      if (plan.json === null) {
        expect([plan.code, step]).toEqual([2, 0]);
      } else if (planned !== `input.ckpt-${step}`) {
        throw new Error(`verify plans ${planned}, the hook restored input.ckpt-${step}`);
      }
      // The resumed run continues with the same elements and saves its end position.
      const rest = [next];
      for (let i = 1; i < 3; i++) rest.push((await it.next()).value as number);
      expect(rest).toEqual(referenceOrder.slice(step, step + 3));
      session.globalStep = step + 3;
      await hook.end(session);
      const again = pipeline();
      const confirm = await runInputHook(again, new CheckpointInputPipelineHook(resumeEstimator, { logger }), step + 3, step + 5);
      expect(confirm).toEqual(referenceOrder.slice(step + 3, step + 5));
    });
  }, 600_000);

  it('resumableFit: every crash state restores the acknowledged or the new checkpoint and finishes bit for bit', async () => {
    const liveDir = tempDir('crash-fit-live');
    const baseDir = tempDir('crash-fit-base');
    const recorder = new RecordingFs(liveDir);
    const fitArgs = { epochs: 2 };
    const reference: number[][][] = [];
    const model = fitModel();
    reference[0] = weightBytes(model);
    const result = await resumableFit(model, fitDataset(), fitArgs, {
      modelDir: new LocalCheckpointStorage(liveDir, { fs: recorder }),
      saveSteps: SAVE_STEPS,
      keepCheckpointMax: KEEP,
      listeners: [new MarkingListener(recorder)],
      hooks: [new WeightRecorder(reference)],
      preemption: false,
      logger: new RecordingLogger(),
    });
    expect([result.globalStep, result.completed]).toEqual([FIT_STEPS, true]);
    // resumableFit writes in the background: a save still waiting when the next one is due is replaced by it,
    // so which of steps 1, 3, 5 are written depends on timing; the final save (6) always is.
    const acked = recorder.ops.filter((op) => op.kind === 'mark' && op.event === 'ack').map((op) => stepOf((op as { label: string }).label));
    console.log(`resumableFit recorded run acknowledged steps ${acked.join(', ')}`);
    expect(acked.filter((s) => ![1, 3, 5].includes(s))).toEqual([FIT_STEPS]);
    expect(acked[acked.length - 1]).toBe(FIT_STEPS);

    await enumerate('resumableFit', baseDir, recorder, async (dir, state) => {
      const allowed = allowedSteps(state);
      const logger = new RecordingLogger();
      const probe = fitModel();
      const restored = await restoreLatest(probe, dir, { logger });
      const step = restored?.globalStep ?? null;
      if (!allowed.includes(step)) throw new Error(`restoreLatest gave step ${step}, allowed ${JSON.stringify(allowed)}`);
      expect(weightBytes(probe)).toEqual(reference[step ?? 0]);
      await expectVerifyAgrees(dir, step, state);
      const resumedModel = fitModel();
      const resumed = await resumableFit(resumedModel, fitDataset(), fitArgs, {
        modelDir: dir,
        saveSteps: SAVE_STEPS,
        keepCheckpointMax: KEEP,
        preemption: false,
        logger,
      });
      expect(resumed.restoredFrom?.globalStep ?? null).toBe(step);
      expect(weightBytes(resumedModel)).toEqual(reference[FIT_STEPS]);
    });
  }, 600_000);
});

/** verify plans the checkpoint restoreLatest used, and reports as corrupt only checkpoints never acknowledged. */
async function expectVerifyAgrees(dir: string, step: number | null, state: CrashState): Promise<void> {
  const { code, json, stderr } = await verify(dir);
  if (json === null) {
    // Nothing written yet (or nothing left): verify says so instead of planning a restore.
    expect([step, code]).toEqual([null, 2]);
    expect(stderr).toMatch(/holds no checkpoints|does not exist/);
    return;
  }
  expect(json.restore.modelCheckpoint).toBe(step === null ? null : `model.ckpt-${step}`);
  const acked = new Set(state.acknowledged.map(stepOf));
  const corruptAcked = json.modelCheckpoints.filter((c) => c.status !== 'ok' && acked.has(c.step));
  expect(corruptAcked).toEqual([]);
  expect(code).toBe(json.ok ? 0 : 1);
}

/** A storage that marks the input hook's saves: begun at the blob write, acknowledged once the index is written. */
class IndexAckingStorage extends DelegatingStorage {
  private current: string | null = null;
  constructor(inner: LocalCheckpointStorage, private readonly recorder: RecordingFs) {
    super(inner);
  }
  override async writeAtomic(p: string, bytes: Uint8Array): Promise<void> {
    if (p.startsWith('input.ckpt-')) {
      this.current = `input-${p.slice('input.ckpt-'.length)}`;
      this.recorder.begin(this.current);
    }
    await super.writeAtomic(p, bytes);
    // The first index write after the blob makes the save latest (acknowledged); retention may rewrite the index after it.
    if (p === 'checkpoint_input' && this.current !== null) {
      this.recorder.ack(this.current);
      this.current = null;
    }
  }
}

async function* iterate(ds: data.CheckpointableDataset<number>, n: number): AsyncGenerator<number> {
  const it = await ds.iterator();
  for (let i = 0; i < n; i++) yield (await it.next()).value as number;
}

/** One element per step from `from` to `to`, through the input hook's lifecycle; returns the elements. */
async function runInputHook(ds: data.CheckpointableDataset<number>, hook: CheckpointInputPipelineHook, from: number, to: number): Promise<number[]> {
  const session = new TrainingSession(tinyModel(), { globalStep: from, datasets: [ds] });
  await hook.begin();
  await hook.afterCreateSession(session);
  const it = await ds.iterator();
  const seen: number[] = [];
  while (session.globalStep < to) {
    seen.push((await it.next()).value as number);
    session.globalStep += 1;
    await hook.afterRun(new SessionRunContext(undefined, session));
  }
  await hook.end(session);
  return seen;
}

/** Records the weights after every step of a resumableFit run. */
class WeightRecorder extends SessionRunHook {
  constructor(private readonly into: number[][][]) {
    super();
  }
  override afterRun(ctx: SessionRunContext): void {
    this.into[ctx.session.globalStep] = weightBytes(ctx.session.model);
  }
}

function fitModel(): tf.LayersModel {
  return tinyModel();
}

/** 12 fixed examples in batches of 4: 3 steps per epoch, 6 in two epochs; shuffled with a fixed seed. */
function fitDataset(): data.CheckpointableDataset<tf.TensorContainer> {
  return data
    .range(0, 12)
    .map((i) => ({ xs: tf.tensor1d([Math.sin(i), Math.cos(i), i / 12, 1]), ys: tf.tensor1d([Math.sin(2 * i), i % 2]) }))
    .shuffle(5, 'crash-seed')
    .batch(4);
}
