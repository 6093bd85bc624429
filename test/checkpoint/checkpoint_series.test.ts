import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LocalCheckpointStorage, restoreLatest, saveCheckpoint } from '../../src';
import { BlobCheckpointStore } from '../../src/checkpoint/blob_checkpoint_store';
import { realFsLayer, type FsLayer } from '../../src/checkpoint/fs_layer';
import { encodeChecksummedJson } from '../../src/checkpoint/safe_json';
import { CheckpointError } from '../../src/errors';
import { errno } from './faulty_fs';
import { CaseTally, RecordingLogger, tempDir, tinyModel, train, weightBytes } from './helpers';

// Retention and orphans of both checkpoint series (issue 14): retention counts only checkpoints that verify and
// never deletes the newest acknowledged save; a save whose index write failed leaves an orphan that the next
// save removes.

const tally = new CaseTally();
afterAll(() => tally.print('checkpoint_series'));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Writes an index file by hand (what a crash, a bug or an operator could leave behind). */
function writeIndexJson(dir: string, indexName: string, paths: string[]): void {
  const checkpoints = paths.map((p) => ({ step: Number(p.slice(p.lastIndexOf('-') + 1)), path: p }));
  const latest = checkpoints.length > 0 ? checkpoints[checkpoints.length - 1].path : null;
  fs.writeFileSync(path.join(dir, indexName), encodeChecksummedJson({ formatVersion: 1, latest, checkpoints }));
}

function indexedPaths(dir: string, indexName: string): string[] {
  const body = fs.readFileSync(path.join(dir, indexName), 'utf8');
  const json = JSON.parse(body.slice(body.indexOf('{'))) as { checkpoints: Array<{ path: string }> };
  return json.checkpoints.map((c) => c.path);
}

function visibleEntries(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
}

function flipLastByte(file: string): void {
  const raw = fs.readFileSync(file);
  raw[raw.length - 1] ^= 0x01;
  fs.writeFileSync(file, raw);
}

describe('model series retention', () => {
  it('an index naming a missing checkpoint at a huge step: keepCheckpointMax 1 keeps the new save', () =>
    tally.run('retention', async () => {
      const dir = tempDir('series-huge');
      const model = tinyModel();
      await train(model, 0, 1);
      await saveCheckpoint(model, dir, { globalStep: 1, epoch: 0 }, { keepCheckpointMax: 1 });
      writeIndexJson(dir, 'checkpoint', ['model.ckpt-1', 'model.ckpt-999999999']);
      await train(model, 1, 2);
      const logger = new RecordingLogger();
      await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 }, { keepCheckpointMax: 1, logger });

      const restored = tinyModel();
      expect((await restoreLatest(restored, dir, { logger: new RecordingLogger() }))?.globalStep).toBe(2);
      expect(weightBytes(restored)).toEqual(weightBytes(model));
      expect(indexedPaths(dir, 'checkpoint')).toEqual(['model.ckpt-2']);
      expect(visibleEntries(dir)).toEqual(['checkpoint', 'model.ckpt-2']);
      expect(logger.warnings).toEqual([
        `Checkpoint ${dir}/model.ckpt-999999999 is newer than the save of step 2 but unusable ` +
          `(${dir}/model.ckpt-999999999/state.json is missing: the checkpoint is incomplete.): dropped from the index.`,
      ]);
    }));

  it('a corrupt newest checkpoint after a fallback: keepCheckpointMax 1 keeps the new save, not the corrupt one', () =>
    tally.run('retention', async () => {
      const dir = tempDir('series-corrupt-newest');
      const model = tinyModel();
      await train(model, 0, 2);
      await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 });
      const step2 = weightBytes(model);
      await train(model, 2, 4);
      await saveCheckpoint(model, dir, { globalStep: 4, epoch: 0 });
      flipLastByte(path.join(dir, 'model.ckpt-4', 'weights.bin'));

      // The restart: restore falls back to step 2, training redoes step 3 and saves it with keepCheckpointMax 1.
      const resumed = tinyModel();
      const restoreLogger = new RecordingLogger();
      expect((await restoreLatest(resumed, dir, { logger: restoreLogger }))?.globalStep).toBe(2);
      expect(weightBytes(resumed)).toEqual(step2);
      await train(resumed, 2, 3);
      const logger = new RecordingLogger();
      await saveCheckpoint(resumed, dir, { globalStep: 3, epoch: 0 }, { keepCheckpointMax: 1, logger });

      const again = tinyModel();
      expect((await restoreLatest(again, dir, { logger: new RecordingLogger() }))?.globalStep).toBe(3);
      expect(weightBytes(again)).toEqual(weightBytes(resumed));
      expect(visibleEntries(dir)).toEqual(['checkpoint', 'model.ckpt-3']);
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(
        new RegExp(`^Checkpoint ${dir}/model\\.ckpt-4 is newer than the save of step 3 but unusable \\(${dir}/model\\.ckpt-4/weights\\.bin failed its checksum .*\\): dropped from the index\\.$`),
      );
    }));

  it('a corrupt older checkpoint does not count: the previous good one stays as the fallback', () =>
    tally.run('retention', async () => {
      const dir = tempDir('series-corrupt-older');
      const model = tinyModel();
      await train(model, 0, 1);
      await saveCheckpoint(model, dir, { globalStep: 1, epoch: 0 }, { keepCheckpointMax: 2 });
      const step1 = weightBytes(model);
      await train(model, 1, 2);
      await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 }, { keepCheckpointMax: 2 });
      flipLastByte(path.join(dir, 'model.ckpt-2', 'optimizer.bin'));
      await train(model, 2, 3);
      const logger = new RecordingLogger();
      await saveCheckpoint(model, dir, { globalStep: 3, epoch: 0 }, { keepCheckpointMax: 2, logger });

      expect(indexedPaths(dir, 'checkpoint')).toEqual(['model.ckpt-1', 'model.ckpt-3']);
      expect(visibleEntries(dir)).toEqual(['checkpoint', 'model.ckpt-1', 'model.ckpt-3']);
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(
        new RegExp(`^Checkpoint ${dir}/model\\.ckpt-2 does not verify \\(${dir}/model\\.ckpt-2/optimizer\\.bin failed its checksum .*\\): it no longer counts as one of the 2 kept; deleted\\.$`),
      );
      // The newest breaks too: the fallback is still there.
      flipLastByte(path.join(dir, 'model.ckpt-3', 'weights.bin'));
      const restored = tinyModel();
      expect((await restoreLatest(restored, dir, { logger: new RecordingLogger() }))?.globalStep).toBe(1);
      expect(weightBytes(restored)).toEqual(step1);
    }));
});

describe('input series retention', () => {
  it('an input index naming a missing blob at a huge step: keepMax 1 keeps the new save', () =>
    tally.run('retention', async () => {
      const dir = tempDir('series-input-huge');
      const logger = new RecordingLogger();
      const store = new BlobCheckpointStore(new LocalCheckpointStorage(dir), { indexName: 'checkpoint_input', prefix: 'input.ckpt', keepMax: 1, logger });
      await store.save(1, new Uint8Array([1]));
      writeIndexJson(dir, 'checkpoint_input', ['input.ckpt-1', 'input.ckpt-999999999']);
      await store.save(2, new Uint8Array([2]));
      expect(await store.readLatestValid()).toEqual({ step: 2, bytes: new Uint8Array([2]) });
      expect(visibleEntries(dir)).toEqual(['checkpoint_input', 'input.ckpt-2']);
      expect(logger.warnings).toEqual([
        `Checkpoint ${dir}/input.ckpt-999999999 is newer than the save of step 2 but unusable ` +
          `(${dir}/input.ckpt-999999999 does not exist.): dropped from the index.`,
      ]);
    }));
});

/**
 * The real file system with a disk capacity (bytes of file data below `root`) and a one-shot ENOSPC at the
 * next index write: a disk that fills up while a save is in flight, as a real tmpfs does.
 */
class QuotaFs implements FsLayer {
  capacity = Infinity;
  failNextIndexWrite = false;
  private readonly fdPaths = new Map<number, string>();
  constructor(private readonly root: string) {}

  usage(): number {
    const walk = (p: string): number =>
      fs.readdirSync(p, { withFileTypes: true }).reduce((n, e) => {
        const child = path.join(p, e.name);
        return n + (e.isDirectory() ? walk(child) : fs.statSync(child).size);
      }, 0);
    return walk(this.root);
  }

  open = async (p: string, flags: string, mode?: number): Promise<number> => {
    const fd = await realFsLayer.open(p, flags, mode);
    this.fdPaths.set(fd, p);
    return fd;
  };
  write = async (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> => {
    const p = this.fdPaths.get(fd) ?? '';
    if (this.failNextIndexWrite && /^\.checkpoint(_input)?\.tmp-/.test(path.basename(p))) {
      this.failNextIndexWrite = false;
      throw errno('ENOSPC', 'write', p);
    }
    const growth = Math.max(0, position + length - fs.fstatSync(fd).size);
    const room = this.capacity - this.usage();
    if (growth > room) {
      if (room > 0) await realFsLayer.write(fd, buffer, offset, room, position);
      throw errno('ENOSPC', 'write', p);
    }
    return realFsLayer.write(fd, buffer, offset, length, position);
  };
  fsync = realFsLayer.fsync;
  close = async (fd: number): Promise<void> => {
    this.fdPaths.delete(fd);
    return realFsLayer.close(fd);
  };
  rename = realFsLayer.rename;
  unlink = realFsLayer.unlink;
  remove = realFsLayer.remove;
  mkdirp = realFsLayer.mkdirp;
  readFile = realFsLayer.readFile;
  lstat = realFsLayer.lstat;
  readdir = realFsLayer.readdir;
  realpath = realFsLayer.realpath;
  assertWritable = realFsLayer.assertWritable;
}

describe('an orphan left by a full disk at the index write', () => {
  it('model series: the next save removes it, so the disk has room again (keepCheckpointMax 1)', () =>
    tally.run('orphan', async () => {
      const dir = tempDir('series-orphan');
      const quota = new QuotaFs(dir);
      const logger = new RecordingLogger();
      const storage = new LocalCheckpointStorage(dir, { fs: quota });
      const model = tinyModel();
      await train(model, 0, 1);
      await saveCheckpoint(model, storage, { globalStep: 1, epoch: 0 }, { keepCheckpointMax: 1, logger });
      // Room for one save beside the kept checkpoint (two checkpoints and two index files at the peak, plus slack
      // for the CRC digits of state.json), not for a third checkpoint.
      quota.capacity = 2 * quota.usage() + 512;

      await train(model, 1, 2);
      quota.failNextIndexWrite = true;
      const failed = await saveCheckpoint(model, storage, { globalStep: 2, epoch: 0 }, { keepCheckpointMax: 1, logger }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(CheckpointError);
      expect((failed as Error).message).toMatch(/^Could not write checkpoint in .*: writing the temporary file failed \(ENOSPC: /);
      expect(visibleEntries(dir)).toEqual(['checkpoint', 'model.ckpt-1', 'model.ckpt-2']);
      expect(indexedPaths(dir, 'checkpoint')).toEqual(['model.ckpt-1']);

      await train(model, 2, 3);
      await saveCheckpoint(model, storage, { globalStep: 3, epoch: 0 }, { keepCheckpointMax: 1, logger });
      expect(visibleEntries(dir)).toEqual(['checkpoint', 'model.ckpt-3']);
      const restored = tinyModel();
      expect((await restoreLatest(restored, dir, { logger: new RecordingLogger() }))?.globalStep).toBe(3);
      expect(weightBytes(restored)).toEqual(weightBytes(model));
      expect(logger.warnings).toEqual([
        `Removing ${dir}/model.ckpt-2: it is not in the index ${dir}/checkpoint (a save that was interrupted or ` +
          'failed before its index write), so no restore would use it.',
      ]);
    }));

  it('model series, no index yet: a first save that failed on a full disk leaves nothing behind', () =>
    tally.run('orphan', async () => {
      const dir = tempDir('series-first-failed');
      const quota = new QuotaFs(dir);
      const storage = new LocalCheckpointStorage(dir, { fs: quota });
      const model = tinyModel();
      await train(model, 0, 1);
      quota.capacity = 1024;
      const failed = await saveCheckpoint(model, storage, { globalStep: 1, epoch: 0 }, { logger: new RecordingLogger() }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(CheckpointError);
      expect((failed as Error).message).toMatch(
        /^Could not write model\.ckpt-1\/model\.json in \S+: writing the temporary file failed \(ENOSPC: .*\)\. .* The disk is full: free space or lower keepCheckpointMax, then save again\.$/,
      );
      expect(fs.readdirSync(dir)).toEqual([]);
    }));

  it('model series, no index yet: the next save removes the files a killed first save left', () =>
    tally.run('orphan', async () => {
      const dir = tempDir('series-first-killed');
      const logger = new RecordingLogger();
      const model = tinyModel();
      await train(model, 0, 1);
      await saveCheckpoint(model, dir, { globalStep: 1, epoch: 0 });
      // What a kill between the renames of the first save leaves: data files without state.json, and no index.
      fs.rmSync(path.join(dir, 'model.ckpt-1', 'state.json'));
      fs.rmSync(path.join(dir, 'checkpoint'));

      await train(model, 1, 2);
      await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 }, { logger });
      expect(visibleEntries(dir)).toEqual(['checkpoint', 'model.ckpt-2']);
      expect(indexedPaths(dir, 'checkpoint')).toEqual(['model.ckpt-2']);
      const restored = tinyModel();
      expect((await restoreLatest(restored, dir, { logger: new RecordingLogger() }))?.globalStep).toBe(2);
      expect(weightBytes(restored)).toEqual(weightBytes(model));
      expect(logger.warnings).toEqual([
        `Removing ${dir}/model.ckpt-1: there is no index ${dir}/checkpoint and it is incomplete (no state.json: a save ` +
          'that was interrupted or failed), so no restore would use it.',
      ]);
    }));

  it('input series: the next save removes the orphaned blob', () =>
    tally.run('orphan', async () => {
      const dir = tempDir('series-input-orphan');
      const quota = new QuotaFs(dir);
      const logger = new RecordingLogger();
      const store = new BlobCheckpointStore(new LocalCheckpointStorage(dir, { fs: quota }), { indexName: 'checkpoint_input', prefix: 'input.ckpt', keepMax: 1, logger });
      await store.save(1, new Uint8Array(64).fill(1));
      // Room for a second blob and index, with slack for the index's one more entry while retention is pending.
      quota.capacity = 2 * quota.usage() + 256;
      quota.failNextIndexWrite = true;
      await expect(store.save(2, new Uint8Array(64).fill(2))).rejects.toThrow(/ENOSPC/);
      expect(visibleEntries(dir)).toEqual(['checkpoint_input', 'input.ckpt-1', 'input.ckpt-2']);
      await store.save(3, new Uint8Array(64).fill(3));
      expect(visibleEntries(dir)).toEqual(['checkpoint_input', 'input.ckpt-3']);
      expect(await store.readLatestValid()).toEqual({ step: 3, bytes: new Uint8Array(64).fill(3) });
      expect(logger.warnings).toEqual([
        `Removing ${dir}/input.ckpt-2: it is not in the index ${dir}/checkpoint_input (a save that was interrupted or ` +
          'failed before its index write), so no restore would use it.',
      ]);
    }));
});
