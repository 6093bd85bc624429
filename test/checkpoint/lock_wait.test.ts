/**
 * `acquireCheckpointLock`: the `lockWaitMs` wait loop around `CheckpointStorage.lock()`, on a local
 * directory and on S3 (s3rver). The holder is a second storage of this process on the same modelDir (a
 * live holder: its token is held here), released while the waiter waits. Timeouts run on a fake clock
 * (each pause advances it by exactly the pause), so the exact progress lines and error text are known.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  acquireCheckpointLock,
  CheckpointLockHeldError,
  InvalidArgumentError,
  LocalCheckpointStorage,
  S3CheckpointStorage,
  type CheckpointStorage,
} from '../../src';
import { startS3Server, type TestS3Server } from '../helpers/s3_server';

let server: TestS3Server;
let tmp: string;
const opened: S3CheckpointStorage[] = [];
let prefixCounter = 0;

beforeAll(async () => {
  server = await startS3Server('lock-bucket');
});
afterAll(async () => {
  for (const s of opened) s.destroy();
  await server.stop();
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-wait-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Two storages on one modelDir (two "jobs"), and when the first's lock was taken (its record's clock). */
interface Pair {
  holder: CheckpointStorage;
  waiter: CheckpointStorage;
  location: string;
}

const backends: Array<[string, () => Pair]> = [
  [
    'local',
    () => {
      const dir = path.join(tmp, 'run');
      return { holder: new LocalCheckpointStorage(dir), waiter: new LocalCheckpointStorage(dir), location: dir };
    },
  ],
  [
    's3',
    () => {
      const url = `s3://${server.bucket}/run-${++prefixCounter}`;
      const make = (): S3CheckpointStorage => {
        const s = new S3CheckpointStorage(url, {
          endpoint: server.endpoint,
          region: 'us-east-1',
          credentials: server.credentials,
          lockVerifyDelayMs: 0,
          env: {},
        });
        opened.push(s);
        return s;
      };
      return { holder: make(), waiter: make(), location: url };
    },
  ],
];

/** A clock that only moves when the wait loop sleeps, by exactly the pause. */
function fakeClock(startMs: number): { now: () => number; sleep: (ms: number) => Promise<void>; pauses: number[] } {
  let t = startMs;
  const pauses: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      pauses.push(ms);
      t += ms;
    },
    pauses,
  };
}

describe.each(backends)('acquireCheckpointLock on %s storage', (_name, makePair) => {
  it('waits while the holder lives, reports who holds it, and takes the lock once the holder releases it', async () => {
    const { holder, waiter, location } = makePair();
    const before = Date.now();
    const releaseHolder = await holder.lock();
    const lines: string[] = [];
    const waiting = acquireCheckpointLock(waiter, { lockWaitMs: 30_000, logger: { warn: (m) => lines.push(m) } });
    // Released while the waiter polls: it must get the lock then, not fail.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(lines.length).toBe(1);
    await releaseHolder();
    const releaseWaiter = await waiting;
    const since = /since (\S+) \(/.exec(lines[0])?.[1] ?? '';
    expect(Date.parse(since)).toBeGreaterThanOrEqual(before - 1000);
    expect(lines[0]).toBe(
      `Waiting for the lock on ${waiter.location} held by pid ${process.pid} on host ${os.hostname()} since ${since} ` +
        '(waited 0 s of at most 30 s).',
    );
    expect(lines.length).toBe(2);
    expect(lines[1]).toMatch(new RegExp(`^Took the lock on ${escape(location)} after waiting \\d+\\.\\d s\\.$`));
    // The waiter holds it now: the first job cannot take it back.
    await expect(holder.lock()).rejects.toBeInstanceOf(CheckpointLockHeldError);
    await releaseWaiter();
  });

  it('gives up after lockWaitMs with CheckpointLockHeldError naming the holder, reporting every 10 s', async () => {
    const { holder, waiter } = makePair();
    const releaseHolder = await holder.lock();
    const clock = fakeClock(1_000_000);
    const lines: string[] = [];
    const error = await acquireCheckpointLock(waiter, {
      lockWaitMs: 21_000,
      logger: { warn: (m) => lines.push(m) },
      now: clock.now,
      sleep: clock.sleep,
    }).catch((e: unknown) => e);
    await releaseHolder();
    expect(error).toBeInstanceOf(CheckpointLockHeldError);
    const held = error as CheckpointLockHeldError;
    expect(held.holder?.pid).toBe(process.pid);
    expect(held.holder?.hostname).toBe(os.hostname());
    const since = new Date(held.holder?.sinceMs ?? NaN).toISOString();
    const who = `pid ${process.pid} on host ${os.hostname()} since ${since}`;
    // 42 pauses of 500 ms reach 21 s exactly; a line at 0, 10 and 20 s.
    expect(clock.pauses).toEqual(Array(42).fill(500));
    expect(lines).toEqual([0, 10, 20].map((s) => `Waiting for the lock on ${waiter.location} held by ${who} (waited ${s} s of at most 21 s).`));
    const cause = (held as Error & { cause?: Error }).cause;
    expect(held.message).toBe(
      `Waited 21.0 s (lockWaitMs 21000) for the lock on ${waiter.location}, still held by ${who}. Stop that job, or ` +
        `raise lockWaitMs above the time it needs to finish its final save. ${cause?.message}`,
    );
    expect(cause).toBeInstanceOf(CheckpointLockHeldError);
  });

  it('fails at once without lockWaitMs (the default 0), with the storage\'s own error', async () => {
    const { holder, waiter } = makePair();
    const releaseHolder = await holder.lock();
    const clock = fakeClock(0);
    const lines: string[] = [];
    const error = await acquireCheckpointLock(waiter, { logger: { warn: (m) => lines.push(m) }, sleep: clock.sleep }).catch(
      (e: unknown) => e,
    );
    await releaseHolder();
    expect(error).toBeInstanceOf(CheckpointLockHeldError);
    expect((error as Error).message).not.toMatch(/^Waited/);
    expect([lines, clock.pauses]).toEqual([[], []]);
  });
});

it('refuses a negative or non-finite lockWaitMs before touching the storage', async () => {
  const storage = new LocalCheckpointStorage(path.join(tmp, 'never'));
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await expect(acquireCheckpointLock(storage, { lockWaitMs: bad })).rejects.toThrow(
      new InvalidArgumentError(`lockWaitMs must be a number of milliseconds >= 0 (0: do not wait), got ${bad}.`),
    );
  }
  expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
