import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { restoreLatest } from '../../src/checkpoint/checkpoint_manager';
import { readIndex } from '../../src/checkpoint/checkpoint_index';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { acquireCheckpointLock } from '../../src/checkpoint/lock_wait';
import { openStorage } from '../../src/checkpoint/open_storage';
import { CheckpointSaverHook } from '../../src/hooks/checkpoint_saver_hook';
import { CheckpointSaverListener } from '../../src/hooks/checkpoint_saver_listener';
import { SessionRunContext } from '../../src/hooks/session_run_hook';
import { TrainingSession } from '../../src/hooks/training_session';
import { CheckpointError, CheckpointLockError, InvalidArgumentError } from '../../src/errors';
import { CaseTally, DelegatingStorage, RecordingLogger, batch, tempDir, tinyModel, train, weightBytes } from '../checkpoint/helpers';

const tally = new CaseTally();
afterAll(() => tally.print('checkpoint_saver_hook'));

/** Delegating storage that can slow down or fail writes and records write concurrency. */
class InstrumentedStorage extends DelegatingStorage {
  active = 0;
  maxActive = 0;
  stateWrites: string[] = [];
  delayMs = 0;
  failWritesOf: (relPath: string) => boolean = () => false;
  override async writeAtomic(p: string, data: Uint8Array): Promise<void> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failWritesOf(p)) throw new CheckpointError(`injected failure writing ${p}`);
      await super.writeAtomic(p, data);
      if (p.endsWith('/state.json')) this.stateWrites.push(p);
    } finally {
      this.active -= 1;
    }
  }
}

/** Drives the hook lifecycle around `steps` trainOnBatch steps, the way HookCallback does. */
async function runWithHook(
  hook: CheckpointSaverHook,
  model: tf.LayersModel,
  steps: number,
  onStep?: (ctx: SessionRunContext) => void | Promise<void>,
): Promise<TrainingSession> {
  const session = new TrainingSession(model);
  await hook.begin();
  await hook.afterCreateSession(session);
  for (let i = 0; i < steps; i++) {
    const ctx = new SessionRunContext(undefined, session);
    await hook.beforeRun(ctx);
    const [xs, ys] = batch(i);
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
    session.globalStep += 1;
    await hook.afterRun(ctx, { results: {} });
    await onStep?.(ctx);
  }
  await hook.end(session);
  return session;
}

function checkpointDirs(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('model.ckpt-')).sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]));
}

describe('CheckpointSaverHook options', () => {
  const cases: Array<[string, object, string]> = [
    ['neither', {}, 'CheckpointSaverHook needs exactly one of saveSteps and saveSecs (got neither).'],
    ['both', { saveSteps: 1, saveSecs: 1 }, 'CheckpointSaverHook needs exactly one of saveSteps and saveSecs (got both).'],
    ['zero steps', { saveSteps: 0 }, 'saveSteps must be a positive number, got 0.'],
    ['negative secs', { saveSecs: -2 }, 'saveSecs must be a positive number, got -2.'],
    ['NaN steps', { saveSteps: NaN }, 'saveSteps must be a positive number, got NaN.'],
    ['bad keep', { saveSteps: 1, keepCheckpointMax: -1 }, 'keepCheckpointMax must be a non-negative integer (0 keeps all), got -1.'],
  ];
  it.each(cases)('rejects %s', (_name, options, message) =>
    tally.run('hook options', () => {
      expect(() => new CheckpointSaverHook('/unused', options)).toThrow(new InvalidArgumentError(message));
      expect(() => new CheckpointSaverHook('/unused', options)).toThrow(InvalidArgumentError);
    }));
});

describe('CheckpointSaverHook saving', () => {
  it('saves at the first step, every N steps and at the end; each checkpoint is its step bit for bit', () =>
    tally.run('hook saving', async () => {
      const dir = tempDir('hook-steps');
      const hook = new CheckpointSaverHook(dir, { saveSteps: 3, keepCheckpointMax: 0 });
      const model = tinyModel();
      // A disk that keeps up with the cadence: every triggered save is written.
      await runWithHook(hook, model, 8, () => hook.flush());
      expect(checkpointDirs(dir)).toEqual(['model.ckpt-1', 'model.ckpt-4', 'model.ckpt-7', 'model.ckpt-8']);
      const restored = tinyModel();
      expect((await restoreLatest(restored, dir))?.globalStep).toBe(8);
      expect(weightBytes(restored)).toEqual(weightBytes(model));
      // An older checkpoint holds exactly the weights of its step.
      fs.rmSync(path.join(dir, 'checkpoint'));
      for (const d of ['model.ckpt-7', 'model.ckpt-8']) fs.rmSync(path.join(dir, d), { recursive: true });
      const at4 = tinyModel();
      await restoreLatest(at4, dir);
      const straight = tinyModel();
      await train(straight, 0, 4);
      expect(weightBytes(at4)).toEqual(weightBytes(straight));
    }));

  it('does not save again at end when the last step was just saved', () =>
    tally.run('hook saving', async () => {
      const dir = tempDir('hook-nodup');
      const storage = new InstrumentedStorage(await LocalCheckpointStorage.open(dir));
      const hook = new CheckpointSaverHook(storage, { saveSteps: 2, keepCheckpointMax: 0 });
      await runWithHook(hook, tinyModel(), 5, () => hook.flush());
      expect(storage.stateWrites).toEqual([1, 3, 5].map((s) => `model.ckpt-${s}/state.json`));
    }));

  it('with saveSecs saves the first step and the end', () =>
    tally.run('hook saving', async () => {
      const dir = tempDir('hook-secs');
      await runWithHook(new CheckpointSaverHook(dir, { saveSecs: 3600, keepCheckpointMax: 0 }), tinyModel(), 4);
      expect(checkpointDirs(dir)).toEqual(['model.ckpt-1', 'model.ckpt-4']);
    }));

  it('writes in the background one checkpoint at a time; a newer save replaces one waiting; each is its step', () =>
    tally.run('hook saving', async () => {
      const dir = tempDir('hook-slow');
      const storage = new InstrumentedStorage(await LocalCheckpointStorage.open(dir));
      storage.delayMs = 30;
      const model = tinyModel();
      const hook = new CheckpointSaverHook(storage, { saveSteps: 1, keepCheckpointMax: 0 });
      // afterRun returns once the snapshot is taken: the step's state.json is still to be written.
      const writtenWhenStepReturned: boolean[] = [];
      await runWithHook(hook, model, 4, (ctx) => {
        writtenWhenStepReturned.push(storage.stateWrites.includes(`model.ckpt-${ctx.session.globalStep}/state.json`));
      });
      expect(writtenWhenStepReturned).toEqual([false, false, false, false]);
      expect(storage.maxActive).toBe(1);
      // Steps 2, 3 and 4 all end while step 1 is being written (each file write takes 30 ms): 2 waits, 3
      // replaces it, 4 replaces 3. Memory holds at most one waiting snapshot; training never waits.
      expect(checkpointDirs(dir)).toEqual(['model.ckpt-1', 'model.ckpt-4']);
      expect((await restoreLatest(tinyModel(), dir))?.globalStep).toBe(4);
      for (const step of [4, 1]) {
        for (const later of checkpointDirs(dir).filter((d) => Number(d.split('-')[1]) > step)) {
          fs.rmSync(path.join(dir, later), { recursive: true });
        }
        fs.rmSync(path.join(dir, 'checkpoint'), { force: true });
        const restored = tinyModel();
        await restoreLatest(restored, dir);
        const straight = tinyModel();
        await train(straight, 0, step);
        expect(weightBytes(restored)).toEqual(weightBytes(straight));
      }
    }));
});

describe('CheckpointSaverHook with background: false', () => {
  it('waits in afterRun until each triggered checkpoint is durable, so none is skipped', () =>
    tally.run('hook saving', async () => {
      const dir = tempDir('hook-sync');
      const storage = new InstrumentedStorage(await LocalCheckpointStorage.open(dir));
      storage.delayMs = 30;
      const hook = new CheckpointSaverHook(storage, { saveSteps: 1, keepCheckpointMax: 0, background: false });
      const writtenWhenStepReturned: boolean[] = [];
      await runWithHook(hook, tinyModel(), 4, (ctx) => {
        writtenWhenStepReturned.push(storage.stateWrites.includes(`model.ckpt-${ctx.session.globalStep}/state.json`));
      });
      expect(writtenWhenStepReturned).toEqual([true, true, true, true]);
      expect(checkpointDirs(dir)).toEqual(['model.ckpt-1', 'model.ckpt-2', 'model.ckpt-3', 'model.ckpt-4']);
    }));
});

describe('CheckpointSaverHook failures and lock', () => {
  it('a second saver on the same modelDir fails with CheckpointLockError until the first ends', () =>
    tally.run('hook lock', async () => {
      const dir = tempDir('hook-lock');
      const first = new CheckpointSaverHook(dir, { saveSteps: 1 });
      await first.begin();
      const second = new CheckpointSaverHook(dir, { saveSteps: 1 });
      const err = await second.begin().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointLockError);
      expect((err as Error).message).toMatch(
        /^Another writer holds the checkpoint directory .*hook-lock-\w+ \(lock .*\.lock\)\. Only one training job may write a modelDir: stop the other job or give this one another modelDir\./,
      );
      await first.end(new TrainingSession(tinyModel()));
      const third = new CheckpointSaverHook(dir, { saveSteps: 1 });
      await third.begin();
      await third.end(new TrainingSession(tinyModel()));
    }));

  it('with lockWaitMs, a second saver waits in begin() for the first to end, reporting the wait, then saves', () =>
    tally.run('hook lock', async () => {
      const dir = tempDir('hook-lock-wait');
      const first = new CheckpointSaverHook(dir, { saveSteps: 1 });
      await first.begin();
      const logger = new RecordingLogger();
      const second = new CheckpointSaverHook(dir, { saveSteps: 1, lockWaitMs: 30_000, logger });
      let began = false;
      const beginning = second.begin().then(() => (began = true));
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(began).toBe(false);
      await first.end(new TrainingSession(tinyModel()));
      await beginning;
      const location = (second.checkpointStorage as LocalCheckpointStorage).location;
      expect(logger.warnings.length).toBe(2);
      expect(logger.warnings[0]).toMatch(
        new RegExp(`^Waiting for the lock on ${location.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} held by pid ${process.pid} on host \\S+ since \\S+ \\(waited 0 s of at most 30 s\\)\\.$`),
      );
      expect(logger.warnings[1]).toMatch(/^Took the lock on .* after waiting \d+\.\d s\.$/);
      await second.end(new TrainingSession(tinyModel()));
      expect((await restoreLatest(tinyModel(), dir))?.globalStep).toBe(0);
    }));

  it('fences with the lock the caller took (heldLock, through another storage object): after a takeover it saves nothing more and afterRun throws CheckpointLockError', () =>
    tally.run('hook lock', async () => {
      const dir = tempDir('hook-held-fence');
      // As resumableFit and Estimator.train do: the lock is taken on a storage of its own before the restore.
      const heldLock = await acquireCheckpointLock(openStorage(dir));
      const logger = new RecordingLogger();
      const hook = new CheckpointSaverHook(dir, { saveSteps: 1, keepCheckpointMax: 0, heldLock, logger });
      const model = tinyModel();
      const stepsRun: number[] = [];
      const run = runWithHook(hook, model, 6, async (ctx) => {
        stepsRun.push(ctx.session.globalStep);
        await hook.flush();
        if (ctx.session.globalStep !== 2) return;
        // Another job takes the lock over (as after this one was suspended past the stale time).
        const ownerFile = path.join(dir, '.lock', 'owner.json');
        const owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as Record<string, unknown>;
        fs.writeFileSync(ownerFile, JSON.stringify({ ...owner, token: 'second-job' }));
      });
      const err = await run.catch((e: unknown) => e);
      // Step 3's save found the lock taken over; step 4's afterRun stops the run.
      expect(stepsRun).toEqual([1, 2, 3]);
      expect(err).toEqual(
        new CheckpointLockError(
          `This job lost the writer lock of ${dir}: it is now held by process ${process.pid} on host ${os.hostname()} ` +
            '(the lock was taken over, probably because this job was suspended past the stale time). Nothing more is written ' +
            'by this job; the other job owns the modelDir now. Check that only one job trains on it.',
        ),
      );
      expect(err).toBeInstanceOf(CheckpointLockError);
      expect(logger.warnings).toEqual([]);
      // Nothing after step 2 is indexed or left on disk.
      expect((await readIndex(openStorage(dir), 'checkpoint', 'model.ckpt'))?.map((e) => e.step)).toEqual([1, 2]);
      expect(checkpointDirs(dir)).toEqual(['model.ckpt-1', 'model.ckpt-2']);
      await expect(hook.end(new TrainingSession(model))).rejects.toEqual(err);
      await expect(heldLock()).rejects.toThrow(CheckpointLockError);
    }));

  it('refuses a negative lockWaitMs', () => {
    expect(() => new CheckpointSaverHook(tempDir('hook-lock-bad'), { saveSteps: 1, lockWaitMs: -5 })).toThrow(
      new InvalidArgumentError('lockWaitMs must be a number of milliseconds >= 0 (0: do not wait), got -5.'),
    );
  });

  it('reports a failed background write, retries at the next trigger, and throws when the final save fails', () =>
    tally.run('hook failures', async () => {
      const dir = tempDir('hook-fail');
      const storage = new InstrumentedStorage(await LocalCheckpointStorage.open(dir));
      const logger = new RecordingLogger();
      storage.failWritesOf = (p) => p === 'model.ckpt-2/weights.bin' || p.startsWith('model.ckpt-4/');
      const hook = new CheckpointSaverHook(storage, { saveSteps: 1, keepCheckpointMax: 0, logger });
      const err = await runWithHook(hook, tinyModel(), 4, () => hook.flush()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toBe(
        'The final checkpoint save at step 4 to ' + dir + ' failed: injected failure writing model.ckpt-4/model.json',
      );
      expect(logger.warnings).toEqual([
        `CheckpointSaverHook: saving step 2 to ${dir} failed: injected failure writing model.ckpt-2/weights.bin Training continues; the next save trigger retries.`,
        // The files step 2 wrote before failing are an orphan: the save of step 3 removes them.
        `Removing ${dir}/model.ckpt-2: it is not in the index ${dir}/checkpoint (a save that was interrupted or failed ` +
          'before its index write), so no restore would use it.',
        `CheckpointSaverHook: saving step 4 to ${dir} failed: injected failure writing model.ckpt-4/model.json Training continues; the next save trigger retries.`,
        `CheckpointSaverHook: saving step 4 to ${dir} failed: injected failure writing model.ckpt-4/model.json Training continues; the next save trigger retries.`,
      ]);
      expect((await restoreLatest(tinyModel(), dir))?.globalStep).toBe(3);
      // The lock was released although end threw.
      const next = new CheckpointSaverHook(dir, { saveSteps: 1 });
      await next.begin();
      await next.end(new TrainingSession(tinyModel()));
    }));

  it('calls listeners in TF order and stops when afterSave returns true', () =>
    tally.run('hook listeners', async () => {
      const dir = tempDir('hook-listen');
      const calls: string[] = [];
      class Recorder extends CheckpointSaverListener {
        override begin(): void {
          calls.push('begin');
        }
        override beforeSave(_s: TrainingSession, step: number): void {
          calls.push(`beforeSave ${step}`);
        }
        override afterSave(_s: TrainingSession, step: number): boolean {
          calls.push(`afterSave ${step}`);
          return step >= 3;
        }
        override end(_s: TrainingSession, step: number): void {
          calls.push(`end ${step}`);
        }
      }
      const hook = new CheckpointSaverHook(dir, { saveSteps: 2, listeners: [new Recorder()] });
      const stops: boolean[] = [];
      await runWithHook(hook, tinyModel(), 6, async (ctx) => {
        stops.push(ctx.stopRequested);
        // Let the step-3 save (and its afterSave) finish so the stop is seen at a deterministic step.
        if (ctx.session.globalStep === 3) await hook.flush();
      });
      expect(calls[0]).toBe('begin');
      expect(calls[calls.length - 1]).toBe('end 6');
      expect(calls.filter((c) => c.startsWith('beforeSave'))).toEqual(['beforeSave 1', 'beforeSave 3', 'beforeSave 5', 'beforeSave 6']);
      // afterSave runs when the background write is durable: in step order, each after its beforeSave.
      expect(calls.filter((c) => c.startsWith('afterSave'))).toEqual(['afterSave 1', 'afterSave 3', 'afterSave 5', 'afterSave 6']);
      for (const step of [1, 3, 5, 6]) expect(calls.indexOf(`afterSave ${step}`)).toBeGreaterThan(calls.indexOf(`beforeSave ${step}`));
      expect(stops).toEqual([false, false, false, true, true, true]);
    }));
});
