import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { restoreLatest, saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { FsLayer, realFsLayer } from '../../src/checkpoint/fs_layer';
import { BlobCheckpointStore } from '../../src/checkpoint/blob_checkpoint_store';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { decodeChecksummedJson, encodeChecksummedJson } from '../../src/checkpoint/safe_json';
import { main } from '../../src/cli';
import { CheckpointError, CheckpointNotFoundError } from '../../src/errors';
import { CheckpointSaverHook } from '../../src/hooks/checkpoint_saver_hook';
import { SessionRunContext } from '../../src/hooks/session_run_hook';
import { TrainingSession } from '../../src/hooks/training_session';
import { errno } from './faulty_fs';
import { CaseTally, RecordingLogger, checkpointedAtStep1, tempDir, tinyModel, train, weightBytes } from './helpers';

// The reader holes of issue 14, each refused or reported instead of silently accepted or aborting.

const tally = new CaseTally();
afterAll(() => tally.print('reader_holes'));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A modelDir with Adam checkpoints at steps 1 and 2, and the weights of step 1. */
async function twoCheckpoints(tag: string): Promise<{ dir: string; step1: number[][] }> {
  const { dir, model, step1 } = await checkpointedAtStep1(tag);
  await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 });
  return { dir, step1 };
}

async function verify(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['verify', dir], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

describe('a state.json without the optimizer record', () => {
  it('is refused for an Adam model, with a warning, and restore falls back to the previous checkpoint', () =>
    tally.run('missing optimizer record', async () => {
      const { dir, step1 } = await twoCheckpoints('no-optimizer');
      const statePath = path.join(dir, 'model.ckpt-2', 'state.json');
      const state = decodeChecksummedJson(fs.readFileSync(statePath), 1 << 20, statePath);
      delete (state.files as Record<string, unknown>)['optimizer.bin'];
      fs.writeFileSync(statePath, encodeChecksummedJson(state));
      fs.rmSync(path.join(dir, 'model.ckpt-2', 'optimizer.bin'));

      const logger = new RecordingLogger();
      const model = tinyModel();
      expect((await restoreLatest(model, dir, { logger }))?.globalStep).toBe(1);
      expect(weightBytes(model)).toEqual(step1);
      expect(logger.warnings).toEqual([
        `Checkpoint ${dir}/model.ckpt-2 is unusable: it holds no optimizer state (its state.json records no ` +
          'optimizer.bin) but the model is compiled with Adam, whose moments would silently restart from zero. ' +
          'Falling back to the previous checkpoint.',
      ]);
    }));

  it('is accepted for a model compiled with plain SGD (it has no state to lose)', () =>
    tally.run('missing optimizer record', async () => {
      const dir = tempDir('no-optimizer-sgd');
      const writer = tinyModel(5, 'sgd');
      await train(writer, 0, 1);
      await saveCheckpoint(writer, dir, { globalStep: 1, epoch: 0 });
      const statePath = path.join(dir, 'model.ckpt-1', 'state.json');
      const state = decodeChecksummedJson(fs.readFileSync(statePath), 1 << 20, statePath);
      delete (state.files as Record<string, unknown>)['optimizer.bin'];
      fs.writeFileSync(statePath, encodeChecksummedJson(state));
      const logger = new RecordingLogger();
      const model = tinyModel(5, 'sgd');
      expect((await restoreLatest(model, dir, { logger }))?.globalStep).toBe(1);
      expect(weightBytes(model)).toEqual(weightBytes(writer));
      expect(logger.warnings).toEqual([]);
    }));
});

describe('an index file replaced by a directory', () => {
  it('restore warns and scans; verify reports it and exits 1', () =>
    tally.run('index not a file', async () => {
      const { dir } = await twoCheckpoints('index-dir');
      fs.rmSync(path.join(dir, 'checkpoint'));
      fs.mkdirSync(path.join(dir, 'checkpoint'));

      const logger = new RecordingLogger();
      expect((await restoreLatest(tinyModel(), dir, { logger }))?.globalStep).toBe(2);
      expect(logger.warnings).toEqual([
        `Index ${dir}/checkpoint is a directory, not an index file: remove it, or every later save fails. ` +
          `Scanning ${dir} for checkpoint directories instead.`,
      ]);
      const { code, stdout } = await verify(dir);
      expect(code).toBe(1);
      expect(stdout.split('\n')[0]).toBe(
        `checkpoint (index)  CORRUPT: Index ${dir}/checkpoint is a directory, not an index file: remove it, or every later save fails.`,
      );
    }));

  it('the input index as a directory is reported by verify too', () =>
    tally.run('index not a file', async () => {
      const { dir } = await twoCheckpoints('input-index-dir');
      fs.writeFileSync(path.join(dir, 'input.ckpt-2'), 'x');
      fs.mkdirSync(path.join(dir, 'checkpoint_input'));
      const { code, stdout } = await verify(dir);
      expect(code).toBe(1);
      expect(stdout).toContain(
        `checkpoint_input (index)  CORRUPT: Index ${dir}/checkpoint_input is a directory, not an index file: remove it, or every later save fails.`,
      );
    }));
});

describe('a symlink inside modelDir pointing outside', () => {
  it('weights.bin -> /etc/passwd: restore falls back to the previous checkpoint, naming it; verify exits 1', () =>
    tally.run('escaping symlink', async () => {
      const { dir, step1 } = await twoCheckpoints('symlink-weights');
      const weights = path.join(dir, 'model.ckpt-2', 'weights.bin');
      fs.rmSync(weights);
      fs.symlinkSync('/etc/passwd', weights);
      const real = fs.realpathSync(dir);

      const logger = new RecordingLogger();
      const model = tinyModel();
      expect((await restoreLatest(model, dir, { logger }))?.globalStep).toBe(1);
      expect(weightBytes(model)).toEqual(step1);
      expect(logger.warnings).toEqual([
        `Checkpoint ${dir}/model.ckpt-2 is unusable: Refusing path "model.ckpt-2/weights.bin" under ${dir}: it goes ` +
          `through a symlink to /etc/passwd, outside the checkpoint directory. Remove the symlink or store checkpoints ` +
          'elsewhere. Falling back to the previous checkpoint.',
      ]);
      expect(real).toBe(real);
      const { code, stdout } = await verify(dir);
      expect(code).toBe(1);
      expect(stdout).toContain('model.ckpt-2  CORRUPT: Refusing path "model.ckpt-2/weights.bin"');
      expect(stdout).toContain('Restore would fall back to model.ckpt-1 (skipping corrupt model.ckpt-2).');
    }));
});

describe('a symlinked input checkpoint pointing outside', () => {
  it('input.ckpt-2 -> /etc/passwd: the input store falls back to input.ckpt-1 naming it; verify reports it and exits 1', () =>
    tally.run('escaping symlink', async () => {
      const dir = tempDir('symlink-input');
      const logger = new RecordingLogger();
      const store = new BlobCheckpointStore(new LocalCheckpointStorage(dir), { indexName: 'checkpoint_input', prefix: 'input.ckpt', logger });
      await store.save(1, new Uint8Array([1]));
      await store.save(2, new Uint8Array([2]));
      fs.rmSync(path.join(dir, 'input.ckpt-2'));
      fs.symlinkSync('/etc/passwd', path.join(dir, 'input.ckpt-2'));
      expect(await store.readLatestValid()).toEqual({ step: 1, bytes: new Uint8Array([1]) });
      expect(logger.warnings).toEqual([
        `Checkpoint ${dir}/input.ckpt-2 is unusable: Refusing path "input.ckpt-2" under ${dir}: it goes through a ` +
          'symlink to /etc/passwd, outside the checkpoint directory. Remove the symlink or store checkpoints elsewhere. ' +
          'Falling back to the previous checkpoint.',
      ]);
      const { code, stdout } = await verify(dir);
      expect(code).toBe(1);
      // (Its payloads are not pipeline states, so verify's deep decode reports input.ckpt-1 as well.)
      expect(stdout).toMatch(/^input\.ckpt-2 +CORRUPT: Refusing path "input\.ckpt-2" under .*: it goes through a symlink to \/etc\/passwd/m);
    }));
});

/**
 * The real file system, except that once `readOnly` is set every mutation fails as on a file system
 * remounted read-only (measured on a tmpfs remounted `ro`: `mkdir -p` of a missing directory reports ENOENT,
 * since Node stats the path after the EROFS; `access(W_OK)`, `open(wx)` and `rename` report EROFS).
 */
class ReadOnlyAfterSwitch implements FsLayer {
  readOnly = false;
  private fail(syscall: string, p: string, code = 'EROFS'): never {
    throw errno(code, syscall, p);
  }
  open = async (p: string, flags: string, mode?: number): Promise<number> => {
    if (this.readOnly && flags !== 'r') this.fail('open', p);
    return realFsLayer.open(p, flags, mode);
  };
  write = realFsLayer.write;
  fsync = realFsLayer.fsync;
  close = realFsLayer.close;
  rename = async (from: string, to: string): Promise<void> => {
    if (this.readOnly) this.fail('rename', from);
    return realFsLayer.rename(from, to);
  };
  unlink = async (p: string): Promise<void> => {
    if (this.readOnly) this.fail('unlink', p);
    return realFsLayer.unlink(p);
  };
  remove = async (p: string): Promise<void> => {
    if (this.readOnly && (await realFsLayer.lstat(p)) !== null) this.fail('unlink', p);
    return realFsLayer.remove(p);
  };
  mkdirp = async (p: string): Promise<void> => {
    if (this.readOnly && (await realFsLayer.lstat(p)) === null) this.fail('mkdir', p, 'ENOENT');
    return realFsLayer.mkdirp(p);
  };
  readFile = realFsLayer.readFile;
  lstat = realFsLayer.lstat;
  readdir = realFsLayer.readdir;
  realpath = realFsLayer.realpath;
  assertWritable = async (p: string): Promise<void> => {
    if (this.readOnly) this.fail('access', p);
    return realFsLayer.assertWritable(p);
  };
}

describe('read-only and vanished modelDirs', () => {
  it('a save on a read-only file system says EROFS and that the directory is not writable (not ENOENT)', () =>
    tally.run('read-only / vanished', async () => {
      const dir = tempDir('ro-save');
      const fsLayer = new ReadOnlyAfterSwitch();
      const storage = new LocalCheckpointStorage(dir, { fs: fsLayer });
      const model = tinyModel();
      await saveCheckpoint(model, storage, { globalStep: 1, epoch: 0 });
      fsLayer.readOnly = true;
      const error = await saveCheckpoint(model, storage, { globalStep: 2, epoch: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toBe(
        `Could not write model.ckpt-2/model.json in ${dir}: creating the directory failed (EROFS: the file system ` +
          `refuses writes to ${fs.realpathSync(dir)}). The previous content of model.ckpt-2/model.json is unchanged. ` +
          'The directory is not writable: fix its permissions or choose another modelDir.',
      );
    }));

  it('the final save of CheckpointSaverHook on a read-only file system surfaces its CheckpointError, not a lock error', () =>
    tally.run('read-only / vanished', async () => {
      const dir = tempDir('ro-hook');
      const fsLayer = new ReadOnlyAfterSwitch();
      const logger = new RecordingLogger();
      const model = tinyModel();
      const hook = new CheckpointSaverHook(new LocalCheckpointStorage(dir, { fs: fsLayer, logger }), {
        saveSteps: 100,
        background: false,
        logger,
      });
      const session = new TrainingSession(model, {});
      await hook.begin();
      await hook.afterCreateSession(session);
      await train(model, 0, 1);
      session.globalStep = 1;
      await hook.afterRun(new SessionRunContext(undefined, session), { results: {} });
      await train(model, 1, 2);
      session.globalStep = 2;
      // The remount: the storage's writes and the lock's own rename both fail with EROFS.
      fsLayer.readOnly = true;
      const realRename = fs.promises.rename;
      const spy = jest.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
        if (String(from).includes(`${path.sep}.lock`)) throw errno('EROFS', 'rename', String(from));
        return realRename(from, to);
      });
      let error: unknown;
      try {
        error = await hook.end(session).then(() => null, (e: unknown) => e);
      } finally {
        spy.mockRestore();
      }
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(
        /^The final checkpoint save at step 2 to .* failed: Could not write model\.ckpt-2\/model\.json in .*: creating the directory failed \(EROFS: /,
      );
      expect(logger.warnings.slice(-1)[0]).toMatch(
        new RegExp(`^Could not remove the lock .*\\.lock of ${dir} \\(EROFS: .*\\): the file system is read-only\\. ` +
          'The next job on this host takes it over at once \\(its owner will have exited\\)\\.$'),
      );
    }));

  it('a modelDir deleted while in use gives CheckpointNotFoundError saying it vanished', () =>
    tally.run('read-only / vanished', async () => {
      const dir = tempDir('vanished');
      const storage = new LocalCheckpointStorage(dir);
      const model = tinyModel();
      await saveCheckpoint(model, storage, { globalStep: 1, epoch: 0 });
      fs.rmSync(dir, { recursive: true });
      const error = await saveCheckpoint(model, storage, { globalStep: 2, epoch: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointNotFoundError);
      expect((error as Error).message).toBe(
        `modelDir ${dir} no longer exists: it was deleted, moved or unmounted while in use, and the checkpoints in ` +
          'it with it. Check the mount; restart the job to begin again in a fresh modelDir.',
      );
      expect(fs.existsSync(dir)).toBe(false);
    }));
});
