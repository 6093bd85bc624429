import type * as crypto from 'crypto';
import { createHash } from 'crypto';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import * as fs from 'fs-extra';
import * as http from 'http';
import * as net from 'net';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';

/** A running in-process S3-compatible server for tests. */
export interface TestS3Server {
  /** `http://127.0.0.1:<port>`: pass as `endpoint` (path-style addressing). */
  endpoint: string;
  /** A bucket that exists on the server. */
  bucket: string;
  /** Access key id and secret the server accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}

/** The slice of s3rver's API we use; s3rver ships no type declarations. */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  store: S3rverStore;
}
interface S3rverObject {
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  content: Buffer | NodeJS.ReadableStream;
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  resetOnClose: boolean;
  vhostBuckets: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

/**
 * Starts `s3rver` on 127.0.0.1 with an OS-chosen free port and a fresh temp directory, with `bucket`
 * created. Only the loopback interface is used, so tests never touch the network. s3rver accepts the
 * key pair S3RVER/S3RVER; it checks the access key id but does not verify SigV4 signatures.
 */
export async function startS3Server(bucket = 'test-bucket'): Promise<TestS3Server> {
  enableSingleDesForS3rver();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as S3rverConstructor;
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    resetOnClose: true,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  makePutAtomic(server.store);
  const { port } = await server.run();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await fs.remove(directory);
    },
  };
}

/**
 * s3rver writes an object in place (truncate, then stream), so a GET during a PUT can see a truncated
 * object; real S3 never shows a partial object. Writing to a temp file and renaming it over the object
 * gives the test server S3's per-object atomicity, which the storage contract relies on. (s3rver lists
 * only files ending in its object suffix, so the temp file never shows up as a key.)
 */
function makePutAtomic(store: S3rverStore): void {
  let tempCounter = 0;
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await fs.mkdirp(path.dirname(objectPath));
    const temp = `${objectPath}.tmp-${++tempCounter}`;
    const hash = createHash('md5');
    let size = 0;
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    await pipeline(source, measure, fs.createWriteStream(temp));
    await fs.rename(temp, objectPath);
    const md5 = hash.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
}

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node >= 17) only
 * offers in its legacy provider: every truncated listing (more than 1000 keys) would fail with HTTP 500.
 * Triple DES with the key repeated three times is mathematically single DES and is in the default
 * provider, so we route exactly the `'des'` algorithm there. Nothing else is touched, and `'des'` would
 * throw "unsupported" without this, so no other caller can observe the change.
 */
function enableSingleDesForS3rver(): void {
  // The module object itself (what s3rver's `require('crypto')` sees), not an import namespace of it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const patched = require('crypto') as {
    createCipheriv: typeof crypto.createCipheriv;
    createDecipheriv: typeof crypto.createDecipheriv;
    singleDesShim?: true;
  };
  if (patched.singleDesShim) return;
  const asTripleDes = (algorithm: string, key: crypto.CipherKey): [string, crypto.CipherKey] =>
    algorithm.toLowerCase() === 'des' && Buffer.isBuffer(key) && key.length === 8
      ? ['des-ede3-cbc', Buffer.concat([key, key, key])]
      : [algorithm, key];
  const { createCipheriv, createDecipheriv } = patched;
  patched.createCipheriv = ((algorithm: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null) =>
    createCipheriv(...asTripleDes(algorithm, key), iv)) as typeof crypto.createCipheriv;
  patched.createDecipheriv = ((algorithm: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null) =>
    createDecipheriv(...asTripleDes(algorithm, key), iv)) as typeof crypto.createDecipheriv;
  patched.singleDesShim = true;
}

/** One request seen by a `FaultInjectingProxy`. */
export interface ProxiedRequest {
  method: string;
  url: string;
  /** Whether the proxy answered it with an injected error instead of forwarding it. */
  injected: boolean;
  /** HTTP status of the answer (0 until it is known). */
  status: number;
}

/** A loopback HTTP proxy in front of an S3 server that can answer the next requests with an error. */
export interface FaultInjectingProxy {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Every request received, in order. */
  readonly requests: ProxiedRequest[];
  /**
   * Answers the next `count` requests (only those with HTTP method `method`, when given) with `status`
   * and an S3 XML error body carrying `code`.
   */
  failNext(count: number, status: number, code: string, method?: string): void;
  /** Forwards the next `count` GET requests but breaks the connection after half of the answer's body. */
  cutBodyOfNextGets(count: number): void;
  /**
   * Lets the first `skip` requests with this HTTP method and URL through, then answers the next `count` of
   * them (a request and its retries) with `status` and an S3 XML error carrying `code`, or, for `'hang'`,
   * never answers them (the client's timeout fires). `count` 0 disarms.
   */
  failMatching(method: string, url: string, skip: number, count: number, fault: { status: number; code: string } | 'hang'): void;
  stop(): Promise<void>;
}

/**
 * Starts a proxy on 127.0.0.1 forwarding to `target` (an `http://127.0.0.1:<port>` endpoint), used to
 * test throttling (503 SlowDown, 429) and credential errors the test server cannot produce itself.
 */
export async function startFaultInjectingProxy(target: string): Promise<FaultInjectingProxy> {
  const upstream = new URL(target);
  if (upstream.hostname !== '127.0.0.1') throw new Error(`test proxy only forwards to 127.0.0.1, not ${target}`);
  const requests: ProxiedRequest[] = [];
  let cutsPending = 0;
  let pending: { count: number; status: number; code: string; method?: string } = { count: 0, status: 0, code: '' };
  let matching = { method: '', url: '', skip: 0, count: 0, fault: 'hang' as { status: number; code: string } | 'hang' };
  const server = http.createServer((req, res) => {
    let matched = false;
    if (matching.count > 0 && req.method === matching.method && req.url === matching.url) {
      if (matching.skip > 0) matching.skip--;
      else {
        matching.count--;
        matched = true;
      }
    }
    const injected = matched || (pending.count > 0 && (pending.method === undefined || pending.method === req.method));
    const record: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', injected, status: 0 };
    requests.push(record);
    if (matched && matching.fault === 'hang') {
      // Read the request, answer nothing: only the client's timeout ends it.
      req.resume();
      return;
    }
    if (injected) {
      let fault: { status: number; code: string } = pending;
      if (matched) fault = matching.fault as { status: number; code: string };
      else pending.count--;
      const { status, code } = fault;
      // Drain the request body first, or the client sees a reset instead of our answer.
      req.resume();
      req.on('end', () => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
            `<Message>injected by the test proxy</Message><RequestId>test</RequestId></Error>`,
        );
      });
      return;
    }
    // A fresh upstream connection per request (`agent: false`): a pooled socket the server closed while idle
    // would fail the forward, and the client's retry would add a request to the sequence tests count.
    const forward = http.request(
      { host: '127.0.0.1', port: Number(upstream.port), method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        record.status = answer.statusCode ?? 0;
        if (req.method === 'GET' && cutsPending > 0) {
          cutsPending--;
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext(count, status, code, method) {
      pending = { count, status, code, method };
    },
    cutBodyOfNextGets(count) {
      cutsPending = count;
    },
    failMatching(method, url, skip, count, fault) {
      matching = { method, url, skip, count, fault };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A 127.0.0.1 port nothing listens on (bound then released), for "endpoint unreachable" tests. */
export async function closedLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The environment variables the README tells a user to set for an `s3://` modelDir, pointing at `server`. */
export function s3EnvFor(server: TestS3Server): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  };
}

/** Sets `env` in `process.env` and returns a function that puts back (or removes) what it replaced. */
export function setProcessEnv(env: NodeJS.ProcessEnv): () => void {
  const before = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  return () => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
