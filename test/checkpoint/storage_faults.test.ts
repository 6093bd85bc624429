import * as fs from 'fs';
import * as path from 'path';
import { restoreLatest, saveCheckpoint } from '../../src/checkpoint/checkpoint_manager';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { CheckpointError } from '../../src/errors';
import { Fault, FaultyFs } from './faulty_fs';
import { CaseTally, RecordingLogger, checkpointedAtStep1, tinyModel, weightBytes } from './helpers';

const tally = new CaseTally();
afterAll(() => tally.print('storage_faults'));

/** Files anywhere under dir, relative, including hidden temporaries. */
function allFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => fs.statSync(path.join(dir, p)).isFile())
    .sort();
}

async function expectStep1Intact(dir: string, step1: number[][]): Promise<void> {
  const logger = new RecordingLogger();
  const restored = tinyModel();
  expect((await restoreLatest(restored, dir, { logger }))?.globalStep).toBe(1);
  expect(weightBytes(restored)).toEqual(step1);
  expect(logger.warnings).toEqual([]);
}

const faultCases: Array<[string, Fault, RegExp]> = [
  [
    'ENOSPC half-way through weights.bin',
    { kind: 'write', target: 'weights.bin', code: 'ENOSPC', afterBytes: 40 },
    /^Could not write model\.ckpt-2\/weights\.bin in .*: writing the temporary file failed \(ENOSPC: .*\)\. The previous content of model\.ckpt-2\/weights\.bin is unchanged\. The disk is full: free space or lower keepCheckpointMax, then save again\.$/,
  ],
  [
    'EIO half-way through optimizer.bin',
    { kind: 'write', target: 'optimizer.bin', code: 'EIO', afterBytes: 64 },
    /^Could not write model\.ckpt-2\/optimizer\.bin in .*: writing the temporary file failed \(EIO: .*\)\. The previous content of model\.ckpt-2\/optimizer\.bin is unchanged\. The device reported an I\/O error: check the disk before trusting new checkpoints\.$/,
  ],
  [
    'ENOSPC half-way through the index',
    { kind: 'write', target: 'checkpoint', code: 'ENOSPC', afterBytes: 10 },
    /^Could not write checkpoint in .*: writing the temporary file failed \(ENOSPC: .*\)\. The previous content of checkpoint is unchanged\. The disk is full/,
  ],
  [
    'a failed rename of state.json',
    { kind: 'rename', target: 'state.json', code: 'EIO' },
    /^Could not write model\.ckpt-2\/state\.json in .*: renaming the temporary file onto model\.ckpt-2\/state\.json failed \(EIO: .*\)\. The previous content of model\.ckpt-2\/state\.json is unchanged\./,
  ],
  [
    'a failed rename of the index',
    { kind: 'rename', target: 'checkpoint', code: 'EXDEV' },
    /^Could not write checkpoint in .*: renaming the temporary file onto checkpoint failed \(EXDEV: .*\)\. The previous content of checkpoint is unchanged\. Check the file system and save again\.$/,
  ],
  [
    'a failed fsync of model.json',
    { kind: 'fsync', target: 'model.json', code: 'EIO' },
    /^Could not write model\.ckpt-2\/model\.json in .*: fsync of the temporary file failed \(EIO: .*\)\. The previous content of model\.ckpt-2\/model\.json is unchanged\./,
  ],
  [
    'a failed fsync of the index',
    { kind: 'fsync', target: 'checkpoint', code: 'EIO' },
    /^Could not write checkpoint in .*: fsync of the temporary file failed \(EIO: .*\)\. The previous content of checkpoint is unchanged\./,
  ],
];

describe('storage faults during a save', () => {
  it.each(faultCases)('%s: the previous checkpoint stays latest and intact', (_name, fault, message) =>
    tally.run('storage faults', async () => {
      const { dir, model, step1 } = await checkpointedAtStep1('fault');
      const before = allFiles(dir);
      const storage = new LocalCheckpointStorage(dir, { fs: new FaultyFs(fault) });
      const err = await saveCheckpoint(model, storage, { globalStep: 2, epoch: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(message);
      await expectStep1Intact(dir, step1);
      // The failed write cleaned its temporary file up; only files of the unfinished step 2 may remain.
      expect(allFiles(dir).filter((f) => !f.startsWith('model.ckpt-2/'))).toEqual(before);
      expect(allFiles(dir).some((f) => f.includes('.tmp-'))).toBe(false);
    }));

  it('a failed directory fsync after the index rename says the new checkpoint may not be durable', () =>
    tally.run('storage faults', async () => {
      const { dir, model } = await checkpointedAtStep1('dirfsync');
      const storage = new LocalCheckpointStorage(dir, { fs: new FaultyFs({ kind: 'dirFsync', code: 'EIO' }) });
      const err = await saveCheckpoint(model, storage, { globalStep: 2, epoch: 0 }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /^Could not write model\.ckpt-2\/model\.json in .*: fsync of the directory failed \(EIO: .*\)\. The new content is in place but may not survive a power loss\./,
      );
    }));
});

describe('atomicity', () => {
  // The temporary files a crash before `target`'s rename leaves: state.json is written in the same fsync batch
  // as the data files and renamed after weights.bin, so a crash before weights.bin's rename leaves both.
  const leftBehind: Record<string, string[]> = {
    'weights.bin': ['.state.json', '.weights.bin'],
    'state.json': ['.state.json'],
    checkpoint: ['.checkpoint'],
  };
  for (const target of ['weights.bin', 'state.json', 'checkpoint']) {
    it(`a crash between writing the temporary ${target} and renaming it leaves the old checkpoint latest`, () =>
      tally.run('atomicity', async () => {
        const { dir, model, step1 } = await checkpointedAtStep1('crash');
        const storage = new LocalCheckpointStorage(dir, { fs: new FaultyFs({ kind: 'crashBeforeRename', target }) });
        await expect(saveCheckpoint(model, storage, { globalStep: 2, epoch: 0 })).rejects.toThrow(CheckpointError);
        // The dead process left its temporary file behind; a restarted process ignores it.
        expect(allFiles(dir).filter((f) => f.includes('.tmp-')).map((f) => path.basename(f).split('.tmp-')[0]).sort()).toEqual(leftBehind[target]);
        await expectStep1Intact(dir, step1);
        expect(await new LocalCheckpointStorage(dir).list('')).not.toContainEqual(expect.stringContaining('.tmp-'));
        // And the next save succeeds and becomes latest.
        await saveCheckpoint(model, dir, { globalStep: 2, epoch: 0 });
        const restored = tinyModel();
        expect((await restoreLatest(restored, dir))?.globalStep).toBe(2);
        expect(weightBytes(restored)).toEqual(weightBytes(model));
      }));
  }
});
