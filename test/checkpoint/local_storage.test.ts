import { ChildProcessByStdio, spawn } from 'child_process';
import type { Readable, Writable } from 'stream';
import * as os from 'os';
import * as fs from 'fs';
import * as path from 'path';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { FsLayer, realFsLayer } from '../../src/checkpoint/fs_layer';
import { crc32, frameBlobHeaded, frameBlobParts, unframeBlob } from '../../src/checkpoint/checksum';
import { restoreLatest } from '../../src/checkpoint/checkpoint_manager';
import { CheckpointError, CheckpointLockError, CheckpointNotFoundError, PathEscapeError } from '../../src/errors';
import { errno } from './faulty_fs';
import { CaseTally, RecordingLogger, tempDir, tinyModel } from './helpers';

const tally = new CaseTally();
afterAll(() => tally.print('local_storage'));

describe('LocalCheckpointStorage basics', () => {
  it('writes, reads, stats, lists by prefix and deletes', () =>
    tally.run('storage basics', async () => {
      const dir = tempDir('basics');
      const s = await LocalCheckpointStorage.open(dir);
      await s.writeAtomic('a/b.bin', new Uint8Array([1, 2, 3]));
      await s.writeAtomic('a/c.bin', new Uint8Array([4]));
      await s.writeAtomic('ab', new Uint8Array([]));
      await s.writeAtomic('z', new Uint8Array([9]));
      await s.writeAtomic('z', new Uint8Array([8, 7]));
      expect(await s.read('a/b.bin')).toEqual(new Uint8Array([1, 2, 3]));
      expect(await s.read('z')).toEqual(new Uint8Array([8, 7]));
      expect((await s.stat('z'))?.size).toBe(2);
      expect(await s.stat('a')).toBeNull();
      expect(await s.exists('nope')).toBe(false);
      expect(await s.list('')).toEqual(['a/b.bin', 'a/c.bin', 'ab', 'z']);
      // A directory, not a name prefix (the storage contract): 'ab' is not below 'a'.
      expect(await s.list('a')).toEqual(['a/b.bin', 'a/c.bin']);
      expect(await s.list('a/')).toEqual(['a/b.bin', 'a/c.bin']);
      expect(await s.list('a/c')).toEqual([]);
      expect(await s.list('z')).toEqual([]);
      await s.delete('a');
      await s.delete('never-existed');
      expect(await s.list('')).toEqual(['ab', 'z']);
      await expect(s.read('a/b.bin')).rejects.toThrow(CheckpointNotFoundError);
      await s.writeAtomic('d/x', new Uint8Array([1]));
      await expect(s.read('d')).rejects.toThrow(new CheckpointNotFoundError(`d does not exist in ${dir}.`));
      await expect(s.read('../x')).rejects.toThrow(PathEscapeError);
      expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    }));

  it('a modelDir that is a file is refused clearly', () =>
    tally.run('modelDir checks', async () => {
      const file = path.join(tempDir('file'), 'model');
      fs.writeFileSync(file, 'x');
      await expect(LocalCheckpointStorage.open(file)).rejects.toThrow(
        new CheckpointError(`modelDir ${file} is a file, not a directory: pass the path of a directory (it is created if missing).`),
      );
      await expect(restoreLatest(tinyModel(), file)).rejects.toThrow(CheckpointError);
    }));

  it('a modelDir that is not writable is refused clearly', () =>
    tally.run('modelDir checks', async () => {
      const dir = tempDir('readonly');
      const denying: FsLayer = { ...realFsLayer, assertWritable: async (p) => { throw errno('EACCES', 'access', p); } };
      const err = await LocalCheckpointStorage.open(dir, { fs: denying }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toBe(`modelDir ${dir} is not writable by this process (EACCES): fix its permissions or choose another modelDir.`);
      // Read-only use (listing, restoring) does not need write permission.
      await expect(LocalCheckpointStorage.open(dir, { fs: denying, readOnly: true })).resolves.toBeInstanceOf(LocalCheckpointStorage);
    }));
});

/** A child process (`node --import tsx`, not the tsx CLI, which would fork a grandchild SIGKILL misses). */
class Child {
  readonly proc: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];

  constructor(fixture: string, dir: string) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', fixture), dir], {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: path.join(__dirname, '..', '..'),
    });
    let buffered = '';
    this.proc.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** The first output line starting with `prefix`. */
  async line(prefix: string): Promise<string> {
    for (;;) {
      const found = this.lines.find((l) => l.startsWith(prefix));
      if (found !== undefined) return found;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`child ${this.pid} exited before "${prefix}"`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

/** The exact message for a live holder; `heartbeat` is a seconds count, or a pattern where load makes it vary. */
function heldMessage(dir: string, pid: number, heartbeatS: number | '\\d+'): string {
  const lockDir = `${fs.realpathSync(dir)}/.lock`;
  return (
    `Another writer holds the checkpoint directory ${dir} (lock ${lockDir}). Only one training job may write a ` +
    'modelDir: stop the other job or give this one another modelDir. The lock is held by process ' +
    `${pid} on host ${os.hostname()} (last heartbeat ${heartbeatS} s ago), which is still running; if it is not a ` +
    `training job (its pid was reused), delete ${lockDir} and retry.`
  );
}

/** A regex matching `text` exactly, where `\d+` stands for any count (the heartbeat age under load). */
function exactly(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\\d\\\+/g, '\\d+');
  return new RegExp(`^${escaped}$`);
}

describe('LocalCheckpointStorage.readChecksummed', () => {
  it('returns the bytes read and their CRC-32 for a file of several read chunks, CheckpointNotFoundError for none', () =>
    tally.run('storage basics', async () => {
      const dir = tempDir('read-checksummed');
      const s = await LocalCheckpointStorage.open(dir);
      const big = Uint8Array.from({ length: 9 * 1024 * 1024 + 3 }, (_, i) => (i * 11 + 5) & 0xff);
      await s.writeAtomic('d/big.bin', big);
      const read = await s.readChecksummed('d/big.bin');
      expect(Buffer.from(read.bytes).equals(Buffer.from(big))).toBe(true);
      expect(read.crc32).toBe(crc32(big));
      await s.writeAtomic('d/empty.bin', new Uint8Array(0));
      expect(await s.readChecksummed('d/empty.bin')).toEqual({ bytes: new Uint8Array(0), crc32: 0 });
      await expect(s.readChecksummed('d/none.bin')).rejects.toThrow(new CheckpointNotFoundError(`d/none.bin does not exist in ${dir}.`));
    }));
});

describe('LocalCheckpointStorage beside a writer deleting what it reads', () => {
  it('list and stat skip a checkpoint deleted between their own calls instead of failing with ENOENT', () =>
    tally.run('storage basics', async () => {
      const dir = tempDir('concurrent-delete');
      fs.mkdirSync(path.join(dir, 'model.ckpt-1'));
      fs.writeFileSync(path.join(dir, 'model.ckpt-1', 'state.json'), '{}');
      fs.writeFileSync(path.join(dir, 'checkpoint'), 'x');
      const real = fs.realpathSync(dir);
      const doomed = path.join(real, 'model.ckpt-1');
      // The directory vanishes right after the first look at it, as when retention in a writer thread deletes it.
      const vanish = (p: string, syscall: string): never => {
        fs.rmSync(doomed, { recursive: true, force: true });
        throw errno('ENOENT', syscall, p);
      };
      const fsLayer: FsLayer = {
        ...realFsLayer,
        readdir: async (p) => (p === doomed ? vanish(p, 'scandir') : realFsLayer.readdir(p)),
        realpath: async (p) => (p.startsWith(doomed) ? vanish(p, 'lstat') : realFsLayer.realpath(p)),
      };
      const s = await LocalCheckpointStorage.open(dir, { fs: fsLayer });
      expect(await s.list('')).toEqual(['checkpoint']);
      fs.mkdirSync(doomed);
      fs.writeFileSync(path.join(doomed, 'state.json'), '{}');
      expect(await s.stat('model.ckpt-1/state.json')).toBeNull();
      expect(fs.existsSync(doomed)).toBe(false);
    }));

  it('list of a checkpoint directory deleted after its lstat, before its readdir, is empty instead of ENOENT', () =>
    tally.run('storage basics', async () => {
      // listCheckpoints lists each checkpoint directory; the writer's retention may delete one in between
      // (seen in CI: "ENOENT: no such file or directory, scandir '…/model.ckpt-1'" from an afterSave listener).
      const dir = tempDir('concurrent-delete-prefix');
      fs.mkdirSync(path.join(dir, 'model.ckpt-1'));
      fs.writeFileSync(path.join(dir, 'model.ckpt-1', 'state.json'), '{}');
      const doomed = path.join(fs.realpathSync(dir), 'model.ckpt-1');
      const fsLayer: FsLayer = {
        ...realFsLayer,
        readdir: async (p) => {
          if (p !== doomed) return realFsLayer.readdir(p);
          fs.rmSync(doomed, { recursive: true, force: true });
          throw errno('ENOENT', 'scandir', p);
        },
      };
      const s = await LocalCheckpointStorage.open(dir, { fs: fsLayer });
      expect(await s.list('model.ckpt-1')).toEqual([]);
      expect(fs.existsSync(doomed)).toBe(false);
      // A vanished modelDir itself is still an error, not an empty listing.
      fs.rmSync(dir, { recursive: true, force: true });
      await expect(s.list('')).rejects.toThrow(
        new CheckpointNotFoundError(
          `modelDir ${dir} no longer exists: it was deleted, moved or unmounted while in use, and the ` +
            'checkpoints in it with it. Check the mount; restart the job to begin again in a fresh modelDir.',
        ),
      );
    }));
});

describe('LocalCheckpointStorage.writeAtomicBatch', () => {
  it('writes a file given in parts as their concatenation, seals the batch from its CRC-32s and renames the seal last', () =>
    tally.run('batch parts and seal', async () => {
      const dir = tempDir('batch');
      const renamed: string[] = [];
      const fsLayer: FsLayer = { ...realFsLayer, rename: async (from, to) => {
        renamed.push(path.relative(fs.realpathSync(dir), to));
        await realFsLayer.rename(from, to);
      } };
      const s = await LocalCheckpointStorage.open(dir, { fs: fsLayer });
      // Bigger than one write chunk (1 MiB), with parts crossing chunk boundaries.
      const big = Uint8Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 7 + 3) & 0xff);
      const parts = [new Uint8Array([1, 2, 3]), big.subarray(0, 1024 * 1024 + 1), big.subarray(1024 * 1024 + 1)];
      const whole = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(big)]);
      let sealedWith: readonly number[] = [];
      const checksums = await s.writeAtomicBatch(
        [['d/one.bin', new Uint8Array([9, 8])], ['d/parts.bin', parts]],
        (crcs) => {
          sealedWith = [...crcs];
          return ['d/seal.json', new TextEncoder().encode(JSON.stringify(crcs))];
        },
      );
      expect(checksums).toEqual([crc32(new Uint8Array([9, 8])), crc32(whole)]);
      expect(sealedWith).toEqual(checksums);
      expect(Buffer.from(await s.read('d/parts.bin')).equals(whole)).toBe(true);
      expect(new TextDecoder().decode(await s.read('d/seal.json'))).toBe(JSON.stringify(checksums));
      expect(renamed).toEqual(['d/one.bin', 'd/parts.bin', 'd/seal.json']);
      expect(fs.readdirSync(path.join(dir, 'd')).sort()).toEqual(['one.bin', 'parts.bin', 'seal.json']);
    }));

  it('writes a headed content (blob frame) as header + payload, with the CRC-32 of the whole file, reading the payload once', () =>
    tally.run('batch parts and seal', async () => {
      const dir = tempDir('batch-headed');
      const s = await LocalCheckpointStorage.open(dir);
      const payload = [Uint8Array.from({ length: 2 * 1024 * 1024 + 7 }, (_, i) => (i * 5 + 1) & 0xff), new Uint8Array([4, 2])];
      const expected = Buffer.concat(frameBlobParts(payload));
      const [checksum] = await s.writeAtomicBatch([['d/framed.bin', frameBlobHeaded(payload)]]);
      const stored = await s.read('d/framed.bin');
      expect(Buffer.from(stored).equals(expected)).toBe(true);
      expect(checksum).toBe(crc32(expected));
      expect(Buffer.from(unframeBlob(stored, 'framed.bin')).equals(Buffer.concat(payload))).toBe(true);
    }));

  it('a seal naming a path outside the root fails the batch and leaves no temporary file, nor the directory it made', () =>
    tally.run('batch parts and seal', async () => {
      const dir = tempDir('batch-escape');
      const s = await LocalCheckpointStorage.open(dir);
      fs.mkdirSync(path.join(dir, 'kept'));
      await expect(
        s.writeAtomicBatch([['d/one.bin', new Uint8Array([1])], ['kept/two.bin', new Uint8Array([2])]], () => ['../escape.json', new Uint8Array([3])]),
      ).rejects.toThrow(PathEscapeError);
      // `d` was made by the batch and goes with it; `kept` was there before and stays (empty again).
      expect(fs.readdirSync(dir).sort()).toEqual(['kept']);
      expect(fs.readdirSync(path.join(dir, 'kept'))).toEqual([]);
      expect(fs.existsSync(path.join(dir, '..', 'escape.json'))).toBe(false);
    }));
});

describe('LocalCheckpointStorage lock', () => {
  const children: Child[] = [];
  const start = (fixture: string, dir: string): Child => {
    const c = new Child(fixture, dir);
    children.push(c);
    return c;
  };
  // Never leave a lock-holding child behind, even when an assertion fails first.
  afterAll(async () => {
    for (const c of children) await c.kill();
  });

  it('a second live writer in this process gets CheckpointLockError naming the holder', () =>
    tally.run('lock', async () => {
      const dir = tempDir('lock');
      const release = await new LocalCheckpointStorage(dir).lock();
      const err = await new LocalCheckpointStorage(dir).lock().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointLockError);
      expect((err as Error).message).toBe(heldMessage(dir, process.pid, 0));
      await release();
      const again = await new LocalCheckpointStorage(dir).lock();
      await again();
      expect(fs.readdirSync(dir)).toEqual([]);
    }));

  it('the lock appears and disappears in one atomic rename: a kill mid-acquire or mid-release leaves no owner-less lock', () =>
    tally.run('lock', async () => {
      const dir = tempDir('atomic-lock');
      const storage = new LocalCheckpointStorage(dir);
      // What a job killed inside acquire or release leaves behind: a staging or a doomed directory.
      fs.mkdirSync(path.join(dir, '.lock-new-killed-while-acquiring'));
      fs.writeFileSync(path.join(dir, '.lock-new-killed-while-acquiring', 'owner.json'), '{}');
      fs.mkdirSync(path.join(dir, '.lock-old-killed-while-releasing'));
      const release = await storage.lock();
      // While held, `.lock` always carries its owner file (it was renamed into place with it).
      expect(fs.readdirSync(path.join(dir, '.lock'))).toEqual(['owner.json']);
      expect(await storage.list('')).toEqual([]);
      await release();
      expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
      // Leftovers never block the next writer.
      const again = await storage.lock();
      await again();
    }));

  it('a live writer in another process gets CheckpointLockError naming its pid and host', () =>
    tally.run('lock', async () => {
      const dir = tempDir('live');
      const holder = start('hold_lock.ts', dir);
      await holder.line('locked');
      const err = await new LocalCheckpointStorage(dir).lock().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointLockError);
      expect((err as Error).message).toMatch(exactly(heldMessage(dir, holder.pid, '\\d+')));
      await holder.kill();
    }), 20000);

  it('the lock of a SIGKILLed process of this host is taken over at once, not after the stale time', () =>
    tally.run('lock', async () => {
      const dir = tempDir('killed');
      const holder = start('hold_lock.ts', dir);
      await holder.line('locked');
      await holder.kill();
      const logger = new RecordingLogger();
      // Default lockStaleMs (10 s) and a frozen clock: only the dead-owner rule can grant the lock.
      const frozen = Date.now();
      const storage = new LocalCheckpointStorage(dir, { logger, now: () => frozen });
      const began = performance.now();
      const release = await storage.lock();
      expect(performance.now() - began).toBeLessThan(1000);
      expect(logger.warnings).toEqual([
        `Took over the lock of ${dir} from process ${holder.pid} on host ${os.hostname()}, which is no longer running.`,
      ]);
      const owner = JSON.parse(fs.readFileSync(path.join(dir, '.lock', 'owner.json'), 'utf8')) as { pid: number };
      expect(owner.pid).toBe(process.pid);
      await release();
      expect(fs.readdirSync(dir)).toEqual([]);
    }), 20000);

  it('two processes racing to take over a dead lock: exactly one wins, the other names the winner', () =>
    tally.run('lock', async () => {
      const dir = tempDir('race');
      const holder = start('hold_lock.ts', dir);
      const racers = [start('take_lock.ts', dir), start('take_lock.ts', dir), start('take_lock.ts', dir)];
      await holder.line('locked');
      for (const r of racers) await r.line('ready');
      await holder.kill();
      for (const r of racers) r.proc.stdin.write('go\n');
      const outcomes = await Promise.all(racers.map((r) => Promise.race([r.line('won'), r.line('lost')])));
      const winners = racers.filter((_, i) => outcomes[i] === 'won');
      expect(winners.map((w) => w.pid)).toHaveLength(1);
      for (const [i, outcome] of outcomes.entries()) {
        if (racers[i] === winners[0]) continue;
        expect(outcome).toMatch(exactly(`lost CheckpointLockHeldError: ${heldMessage(dir, winners[0].pid, '\\d+')}`));
      }
      const owner = JSON.parse(fs.readFileSync(path.join(dir, '.lock', 'owner.json'), 'utf8')) as { pid: number };
      expect(owner.pid).toBe(winners[0].pid);
    }), 30000);

  it('a lock of another host is taken over only once its heartbeat is lockStaleMs old', () =>
    tally.run('lock', async () => {
      const dir = tempDir('otherhost');
      const lockDir = path.join(dir, '.lock');
      const heartbeat = 1_700_000_000_000;
      fs.mkdirSync(lockDir);
      const ownerPath = path.join(lockDir, 'owner.json');
      fs.writeFileSync(ownerPath, JSON.stringify({ pid: 4242, hostname: 'gpu-node-7', token: 'x', startedMs: heartbeat }));
      fs.utimesSync(ownerPath, new Date(heartbeat), new Date(heartbeat));
      let clock = heartbeat + 9999;
      const logger = new RecordingLogger();
      const storage = new LocalCheckpointStorage(dir, { logger, now: () => clock });
      const err = await storage.lock().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointLockError);
      expect((err as Error).message).toBe(
        `Another writer holds the checkpoint directory ${dir} (lock ${fs.realpathSync(dir)}/.lock). Only one training ` +
          'job may write a modelDir: stop the other job or give this one another modelDir. The lock is held by ' +
          'process 4242 on host gpu-node-7 (last heartbeat 10 s ago). If it died, its lock is taken over 10 s after ' +
          'its last heartbeat; retry then.',
      );
      clock += 1;
      const release = await storage.lock();
      expect(logger.warnings).toEqual([
        `Took over the lock of ${dir} from process 4242 on host gpu-node-7, whose last heartbeat was 10 s ago.`,
      ]);
      await release();
      expect(fs.readdirSync(dir)).toEqual([]);
    }));

  it('a holder whose lock was taken over gets CheckpointLockError on release and leaves the new lock alone', () =>
    tally.run('lock', async () => {
      const dir = tempDir('takenover');
      let clock = 1_700_000_000_000;
      const logger = new RecordingLogger();
      const storage = new LocalCheckpointStorage(dir, { logger, now: () => clock, lockStaleMs: 5000 });
      const first = await storage.lock();
      clock += 5000;
      const second = await storage.lock();
      const err = await first().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointLockError);
      expect((err as Error).message).toBe(
        `The lock on ${dir} was taken over while this job held it (now held by process ${process.pid} on host ` +
          `${os.hostname()}), probably because its heartbeat could not be written for 5 s. Another job may have ` +
          'written to the modelDir: check its latest checkpoint.',
      );
      expect(fs.existsSync(path.join(dir, '.lock', 'owner.json'))).toBe(true);
      await second();
      expect(fs.readdirSync(dir)).toEqual([]);
    }));
});
