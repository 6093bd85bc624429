import { S3CheckpointStorage, S3CheckpointStorageOptions } from '../../src/checkpoint/s3_storage';
import {
  S3AccessDeniedError,
  S3BucketNotFoundError,
  S3EndpointUnreachableError,
  S3ThrottledError,
} from '../../src/checkpoint/s3_errors';
import { loadS3Sdk } from '../../src/checkpoint/s3_sdk';
import { CheckpointError, CheckpointLockError, InvalidArgumentError } from '../../src/errors';
import {
  FaultInjectingProxy,
  TestS3Server,
  closedLoopbackPort,
  startFaultInjectingProxy,
  startS3Server,
} from '../helpers/s3_server';
import { describeStorageContract } from './storage_contract';

let server: TestS3Server;
let proxy: FaultInjectingProxy;
let prefixCounter = 0;
const storages: S3CheckpointStorage[] = [];

beforeAll(async () => {
  server = await startS3Server('test-bucket');
  proxy = await startFaultInjectingProxy(server.endpoint);
});
afterAll(async () => {
  for (const s of storages) s.destroy();
  await proxy.stop();
  await server.stop();
});

/** A storage on a fresh prefix of the test bucket; `sleeps` records every backoff wait instead of waiting. */
function open(
  options: S3CheckpointStorageOptions & { prefix?: string; bucket?: string } = {},
  sleeps: number[] = [],
): S3CheckpointStorage {
  const { prefix, bucket, ...rest } = options;
  const storage = new S3CheckpointStorage(`s3://${bucket ?? server.bucket}/${prefix ?? `run-${++prefixCounter}`}`, {
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: server.credentials,
    lockVerifyDelayMs: 0,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    env: {},
    ...rest,
  });
  storages.push(storage);
  return storage;
}

describeStorageContract('S3CheckpointStorage', async ({ now, lockStaleMs }) => {
  const storage = open({ now, lockStaleMs });
  return { storage, cleanup: async () => storage.destroy() };
});

describe('S3CheckpointStorage specifics', () => {
  it('has the canonical s3:// location', () => {
    expect(open({ prefix: 'runs//mnist/' }).location).toBe('s3://test-bucket/runs/mnist');
  });

  it('stores objects under the prefix, so two model dirs in one bucket do not see each other', async () => {
    const a = open({ prefix: 'shared/a' });
    const b = open({ prefix: 'shared/ab' });
    await a.writeAtomic('checkpoint', new Uint8Array([1]));
    await b.writeAtomic('checkpoint', new Uint8Array([2]));
    expect(await a.list('')).toEqual(['checkpoint']);
    expect(Array.from(await open({ prefix: 'shared' }).read('a/checkpoint'))).toEqual([1]);
    await a.delete('checkpoint');
    expect(Array.from(await b.read('checkpoint'))).toEqual([2]);
  });

  it('refuses the reserved lock name', async () => {
    const storage = open();
    await expect(storage.writeAtomic('.lock', new Uint8Array([1]))).rejects.toThrow(InvalidArgumentError);
    await expect(storage.read('.lock')).rejects.toThrow(/reserved for the writer lock of s3:\/\/test-bucket\/run-\d+/);
  });

  it('lists and deletes more than 1000 keys, following continuation tokens and batching deletes', async () => {
    const storage = open({ endpoint: proxy.endpoint });
    const names = Array.from({ length: 1005 }, (_, i) => `many/k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(names.slice(i, i + 25).map((n) => storage.writeAtomic(n, new Uint8Array([i & 255]))));
    }
    const before = proxy.requests.length;
    expect(await storage.list('many')).toEqual(names);
    const listing = proxy.requests.slice(before);
    expect(listing.length).toBe(2);
    expect(listing.filter((r) => r.url.includes('continuation-token=')).length).toBe(1);

    const beforeDelete = proxy.requests.length;
    await storage.delete('many');
    // s3rver deletes the keys of one batch concurrently and sometimes trips over its own directory
    // clean-up (HTTP 500); those attempts are retried, so count the batches that succeeded.
    const deletes = proxy.requests
      .slice(beforeDelete)
      .filter((r) => r.method === 'POST' && /[?&]delete(=|&|$)/.test(r.url) && r.status === 200);
    expect(deletes.length).toBe(2); // 1000 + 6 keys (the prefix itself as an object, then 1005 below it)
    expect(await storage.list('')).toEqual([]);
  });

  it('falls back to one DELETE per object when the server lacks multi-object delete (501)', async () => {
    const storage = open({ endpoint: proxy.endpoint });
    for (const n of ['d/a', 'd/b', 'd/c/e', 'keep']) await storage.writeAtomic(n, new Uint8Array([1]));
    const before = proxy.requests.length;
    proxy.failNext(1, 501, 'NotImplemented', 'POST');
    await storage.delete('d');
    expect(proxy.requests.slice(before).map((r) => `${r.method} ${r.status}`)).toEqual([
      'GET 200', // list below d/
      'POST 501', // DeleteObjects
      'DELETE 204', // d (as an object; missing is fine)
      'DELETE 204',
      'DELETE 204',
      'DELETE 204',
    ]);
    expect(await storage.list('')).toEqual(['keep']);
    // Remembered: the next delete goes straight to single DELETEs.
    const again = proxy.requests.length;
    await storage.delete('keep');
    expect(proxy.requests.slice(again).map((r) => r.method)).toEqual(['GET', 'DELETE']);
  });

  it('reads the endpoint from AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL', async () => {
    const closed = await closedLoopbackPort();
    const storage = open({
      endpoint: undefined,
      env: { AWS_ENDPOINT_URL: `http://127.0.0.1:${closed}`, AWS_ENDPOINT_URL_S3: server.endpoint },
    });
    expect(storage.endpointDescription).toBe(server.endpoint);
    await storage.writeAtomic('x', new Uint8Array([5]));
    expect(Array.from(await storage.read('x'))).toEqual([5]);
    const fromGeneric = open({ endpoint: undefined, env: { AWS_ENDPOINT_URL: server.endpoint } });
    expect(fromGeneric.endpointDescription).toBe(server.endpoint);
    expect(await fromGeneric.list('')).toEqual([]);
  });

  it('rejects a malformed endpoint', () => {
    expect(() => open({ endpoint: '127.0.0.1:9000' })).toThrow(InvalidArgumentError);
    expect(() => open({ endpoint: '127.0.0.1:9000' })).toThrow(/expected http\(s\):\/\/host\[:port\]/);
  });

  it('says how to install the SDK when @aws-sdk/client-s3 is missing', () => {
    const missing = (): never => {
      throw Object.assign(new Error("Cannot find module '@aws-sdk/client-s3'"), { code: 'MODULE_NOT_FOUND' });
    };
    const make = () => new S3CheckpointStorage('s3://test-bucket/p', { loadSdk: () => loadS3Sdk(missing) });
    expect(make).toThrow(CheckpointError);
    expect(make).toThrow(/^install @aws-sdk\/client-s3 to use s3:\/\/ model dirs/);
  });

  describe('lock across writers', () => {
    it('a second writer on the same prefix gets CheckpointLockError naming the holder', async () => {
      const a = open({ prefix: 'locked' });
      const b = open({ prefix: 'locked' });
      const release = await a.lock();
      await expect(b.lock()).rejects.toThrow(CheckpointLockError);
      await expect(b.lock()).rejects.toThrow(
        new RegExp(`^s3://test-bucket/locked is locked by another writer \\(.+ pid ${process.pid}, last heartbeat 0 s ago\\)`),
      );
      await release();
      const releaseB = await b.lock();
      await releaseB();
    });

    it('of two writers racing on a server that ignores If-None-Match, exactly one wins', async () => {
      const real = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), lockVerifyDelayMs: 100 };
      const a = open({ prefix: 'race', ...real });
      const b = open({ prefix: 'race', ...real });
      const outcomes = await Promise.allSettled([a.lock(), b.lock()]);
      const won = outcomes.filter((o): o is PromiseFulfilledResult<Awaited<ReturnType<typeof a.lock>>> => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won.length).toBe(1);
      expect(lost.length).toBe(1);
      expect(lost[0].reason).toBeInstanceOf(CheckpointLockError);
      await won[0].value();
    });

    it('falls back to an unconditional PUT (plus read-back) when conditional writes are not implemented', async () => {
      const storage = open({ prefix: 'no-conditional', endpoint: proxy.endpoint });
      await storage.list(''); // passes the one-time bucket check
      const before = proxy.requests.length;
      proxy.failNext(1, 501, 'NotImplemented', 'PUT');
      const release = await storage.lock();
      expect(proxy.requests.slice(before).map((r) => `${r.method} ${r.status}`)).toEqual([
        'GET 404', // no lock yet
        'PUT 501', // If-None-Match: * refused
        'PUT 200',
        'GET 200', // read-back: ours
      ]);
      await expect(open({ prefix: 'no-conditional' }).lock()).rejects.toThrow(CheckpointLockError);
      await release();
    });

    it('the heartbeat keeps a live lock from going stale', async () => {
      const a = open({ prefix: 'heartbeat', lockStaleMs: 300 });
      const b = open({ prefix: 'heartbeat', lockStaleMs: 300 });
      const release = await a.lock();
      await new Promise((r) => setTimeout(r, 700)); // > 2 stale periods of real time, ~7 heartbeats
      await expect(b.lock()).rejects.toThrow(CheckpointLockError);
      await release();
      const releaseB = await b.lock();
      await releaseB();
    });

    it('a heartbeat read before a take-over and written after it does not put the old owner back (no split brain)', async () => {
      // Job A's heartbeat reads its own lock, then A is suspended before the write; B takes the stale lock over and
      // releases it; A resumes and its beat's PUT goes out. s3rver ignores If-Match, so only the object it goes to
      // decides whether A looks like the owner again.
      const sdk = loadS3Sdk();
      let armed = false;
      let openGate: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      let signalHeld: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (signalHeld = resolve));
      const puts: Array<Promise<unknown>> = [];
      class GatedClient extends sdk.S3Client {
        override send(command: unknown, ...rest: unknown[]): Promise<unknown> {
          const send = (): Promise<unknown> => (super.send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(command, ...rest);
          if (!armed || !(command instanceof sdk.PutObjectCommand)) return send();
          armed = false;
          signalHeld();
          const put = gate.then(send);
          puts.push(put.catch(() => undefined));
          return put;
        }
      }
      const a = open({ prefix: 'late-beat', lockStaleMs: 300, loadSdk: () => ({ ...sdk, S3Client: GatedClient as unknown as typeof sdk.S3Client }) });
      const releaseA = await a.lock();
      armed = true;
      await held;
      const b = open({ prefix: 'late-beat', lockStaleMs: 300, now: () => Date.now() + 10_000 });
      const releaseB = await b.lock();
      await releaseB();
      openGate();
      await Promise.all(puts);

      await expect(a.checkLockToken(releaseA.token ?? 'no token')).rejects.toThrow(
        new RegExp(`^This job lost the writer lock s3://test-bucket/late-beat/\\.lock: it is now held by nobody \\(taken over`),
      );
      const c = open({ prefix: 'late-beat' });
      const releaseC = await c.lock();
      await releaseC();
      await expect(releaseA()).rejects.toThrow(/^The lock s3:\/\/test-bucket\/late-beat\/\.lock was taken over while this job held it \(it was deleted\)/);
    });

    it('refuses to guess about a lock object it cannot parse', async () => {
      const raw = open({ prefix: 'garbage' });
      const shared = open({ prefix: '' });
      await shared.writeAtomic('garbage/x', new Uint8Array([1]));
      // Write the lock key through a storage rooted one level up, where ".lock" is not reserved.
      await shared.writeAtomic('garbage/.lock', new TextEncoder().encode('not json'));
      await expect(raw.lock()).rejects.toThrow(/is not a lock written by tfjs-resumable/);
      expect(await raw.list('')).toEqual(['x']);
    });
  });

  describe('failures', () => {
    it('an unreachable endpoint is retried with backoff, then named with what to check', async () => {
      const port = await closedLoopbackPort();
      const sleeps: number[] = [];
      const storage = open({ endpoint: `http://127.0.0.1:${port}` }, sleeps);
      const error = await storage.read('checkpoint').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3EndpointUnreachableError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Cannot reach the S3 endpoint http://127\\.0\\.0\\.1:${port} for bucket check of s3://test-bucket ` +
            'after 5 attempts \\(ECONNREFUSED: .*\\)\\. Check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 ' +
            '\\(or the endpoint option\\) and the network\\.$',
        ),
      );
      expect(sleeps).toEqual([100, 200, 400, 800]);
    });

    it('an unknown access key is reported as S3AccessDeniedError without retrying', async () => {
      const sleeps: number[] = [];
      const storage = open({ credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } }, sleeps);
      const error = await storage.writeAtomic('x', new Uint8Array([1])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3AccessDeniedError);
      expect((error as Error).message).toMatch(
        /^S3 denied bucket check of s3:\/\/test-bucket at http:\/\/127\.0\.0\.1:\d+: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records\. \(HTTP 403\)\. Check the credentials/,
      );
      expect(sleeps).toEqual([]);
    });

    it('a bad signature (SignatureDoesNotMatch; s3rver does not verify SigV4, so a proxy answers) is S3AccessDeniedError', async () => {
      const storage = open({ endpoint: proxy.endpoint });
      proxy.failNext(1, 403, 'SignatureDoesNotMatch');
      const error = await storage.stat('x').catch((e: unknown) => e);
      proxy.failNext(0, 0, '');
      expect(error).toBeInstanceOf(S3AccessDeniedError);
      expect((error as Error).message).toMatch(/: SignatureDoesNotMatch: injected by the test proxy \(HTTP 403\)\. Check the credentials/);
    });

    it('a missing bucket is named, with how to create it', async () => {
      const storage = open({ bucket: 'no-such-bucket', prefix: 'p' });
      await expect(storage.stat('x')).rejects.toThrow(S3BucketNotFoundError);
      await expect(storage.list('')).rejects.toThrow(
        /^The bucket "no-such-bucket" of s3:\/\/no-such-bucket\/p does not exist at http:\/\/127\.0\.0\.1:\d+\. Create it \(e\.g\. aws s3 mb s3:\/\/no-such-bucket --endpoint-url <endpoint>\)/,
      );
    });

    it('throttling (503 SlowDown) N times is retried: exactly N+1 attempts on the backoff schedule', async () => {
      const sleeps: number[] = [];
      const storage = open({ endpoint: proxy.endpoint }, sleeps);
      await storage.writeAtomic('w', new Uint8Array([4, 2])); // passes the one-time bucket check
      const before = proxy.requests.length;
      proxy.failNext(3, 503, 'SlowDown');
      expect(Array.from(await storage.read('w'))).toEqual([4, 2]);
      expect(proxy.requests.slice(before).map((r) => `${r.method} ${r.injected}`)).toEqual([
        'GET true',
        'GET true',
        'GET true',
        'GET false',
      ]);
      expect(sleeps).toEqual([100, 200, 400]);
    });

    it('a connection broken in the middle of a body is retried, and the full object is returned', async () => {
      const sleeps: number[] = [];
      const storage = open({ endpoint: proxy.endpoint }, sleeps);
      const payload = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 255);
      await storage.writeAtomic('w', payload);
      proxy.cutBodyOfNextGets(2);
      const back = await storage.read('w');
      expect(Buffer.from(back).equals(Buffer.from(payload))).toBe(true);
      expect(sleeps).toEqual([100, 200]);
    });

    it('429 counts as throttling too, and a custom schedule is followed', async () => {
      const sleeps: number[] = [];
      const storage = open(
        { endpoint: proxy.endpoint, maxAttempts: 3, retryBaseDelayMs: 10, retryMaxDelayMs: 15 },
        sleeps,
      );
      await storage.writeAtomic('w', new Uint8Array([1]));
      proxy.failNext(2, 429, 'TooManyRequests');
      await storage.writeAtomic('w', new Uint8Array([9]));
      expect(sleeps).toEqual([10, 15]);
      expect(Array.from(await storage.read('w'))).toEqual([9]);
    });

    it('throttling that outlasts every attempt ends in S3ThrottledError', async () => {
      const sleeps: number[] = [];
      const storage = open({ endpoint: proxy.endpoint }, sleeps);
      await storage.writeAtomic('w', new Uint8Array([1]));
      const before = proxy.requests.length;
      proxy.failNext(5, 503, 'SlowDown');
      const error = await storage.writeAtomic('w', new Uint8Array([2])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3ThrottledError);
      expect((error as Error).message).toMatch(
        /^S3 at http:\/\/127\.0\.0\.1:\d+ kept throttling write of s3:\/\/test-bucket\/run-\d+\/w \(SlowDown: injected by the test proxy \(HTTP 503\)\) for 5 attempts\./,
      );
      expect(proxy.requests.length - before).toBe(5);
      expect(sleeps).toEqual([100, 200, 400, 800]);
      expect(Array.from(await storage.read('w'))).toEqual([1]);
    });
  });
});
