import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { lockStaleMsFromEnv } from './lock_stale_env';
import { randomUUID } from 'crypto';
import * as os from 'os';
import { CheckpointError, CheckpointLockError, CheckpointLockHeldError, CheckpointNotFoundError, InvalidArgumentError } from '../errors';
import { forgetHeldToken, isHolderDeadOnThisHost, rememberHeldToken } from './lock_holder';
import { checkRelativePath } from './paths';
import { DEFAULT_RETRY_POLICY, RetriesExhausted, RetryPolicy, retryWithBackoff } from './retry';
import {
  INCOMPLETE_BODY,
  S3AccessDeniedError,
  S3BucketNotFoundError,
  S3CredentialsMissingError,
  S3EndpointUnreachableError,
  S3ThrottledError,
  classifyS3Error,
  describeThrown,
  isRetryableS3Error,
} from './s3_errors';
import { S3Sdk, loadS3Sdk } from './s3_sdk';
import { S3Location, parseS3Url } from './s3_url';
import type { CheckpointStorage, HeldLock, StorageStat, WorkerStorageDescription } from './storage';

/** Static credentials; without them the AWS SDK's default chain (env, profile, IMDS, ...) is used. */
export interface S3Credentials {
  /** The access key ID (`AWS_ACCESS_KEY_ID`). */
  accessKeyId: string;
  /** The secret access key (`AWS_SECRET_ACCESS_KEY`). */
  secretAccessKey: string;
  /** Session token of temporary credentials (`AWS_SESSION_TOKEN`); omit for long-term keys. */
  sessionToken?: string;
}

/** Options of `S3CheckpointStorage`. Every field is optional; defaults follow the AWS conventions. */
export interface S3CheckpointStorageOptions {
  /**
   * Endpoint of an S3-compatible server (MinIO, Ceph, R2, s3rver, ...). Defaults to
   * `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS itself.
   */
  endpoint?: string;
  /** Region; defaults to `AWS_REGION` / `AWS_DEFAULT_REGION` / the SDK profile, or `us-east-1` with a custom endpoint. */
  region?: string;
  /** Static credentials; default: the AWS SDK's default credential chain. */
  credentials?: S3Credentials;
  /** Path-style URLs (`endpoint/bucket/key`); defaults to `true` when an endpoint is set, as most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Attempts per request, first one included, for throttling (503 SlowDown, 429), 5xx and network errors. Default 5. */
  maxAttempts?: number;
  /** First backoff wait; doubles per retry (100, 200, 400, ... ms). Default 100. */
  retryBaseDelayMs?: number;
  /** Cap of one backoff wait. Default 5000. */
  retryMaxDelayMs?: number;
  /** Waits between retries and before the lock check; injectable so tests run without waiting. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * A lock whose last heartbeat is older than this is considered left by a dead job and taken over.
   * The holder refreshes its heartbeat every `lockStaleMs / 3`. Default 60 000 ms.
   */
  lockStaleMs?: number;
  /**
   * Wait between writing the lock object and reading it back (see `lock()`): a writer that raced us and
   * overwrote the lock within this window is detected. Default 250 ms.
   */
  lockVerifyDelayMs?: number;
  /** Wall clock for lock heartbeats; injectable for tests of stale-lock recovery. Default `Date.now`. */
  now?: () => number;
  /** Connect timeout per request; a black-holed endpoint fails instead of hanging. Default 5000 ms. */
  connectionTimeoutMs?: number;
  /** Socket idle timeout per request. Default 60 000 ms. */
  requestTimeoutMs?: number;
  /** Environment to read the defaults from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Loads `@aws-sdk/client-s3`; injectable to test the "not installed" message. */
  loadSdk?: () => S3Sdk;
}

/** Name of the lock object directly below the storage root; `list` never returns it. */
export const S3_LOCK_NAME = '.lock';

/**
 * Prefix of the heartbeat objects, `<prefix>/.lock-heartbeat-<owner token>`, each written only by the job
 * holding that token: the heartbeat never rewrites the lock object itself, so a heartbeat delayed past a
 * take-over (the holder suspended between reading its lock and writing it) cannot put the old owner back.
 */
export const S3_HEARTBEAT_PREFIX = '.lock-heartbeat-';

/** Whether a storage-relative name is the lock or a heartbeat object (reserved, never listed). */
function isLockObjectName(relPath: string): boolean {
  return relPath === S3_LOCK_NAME || relPath.startsWith(S3_HEARTBEAT_PREFIX);
}

/** Contents of the lock object (`heartbeatMs` is the time it was taken; later beats are heartbeat objects). */
interface LockRecord {
  owner: string;
  host: string;
  pid: number;
  acquiredMs: number;
  heartbeatMs: number;
}

/** Contents of a heartbeat object. */
interface HeartbeatRecord {
  owner: string;
  heartbeatMs: number;
}

/** DeleteObjects accepts at most this many keys per request. */
const DELETE_BATCH = 1000;
/** Hard bound of `ListObjectsV2` pages per listing (1000 keys each): a misbehaving server cannot loop us forever. */
const MAX_LIST_PAGES = 100_000;

/**
 * `CheckpointStorage` on S3 or any S3-compatible object store, for jobs whose VM (and local disk) does
 * not survive preemption.
 *
 * Atomicity: a single PUT is atomic on S3 (readers see the old or the new object, never a mix), so
 * `writeAtomic` is one PutObject; multi-object checkpoints rely on the index object being written last.
 *
 * Errors: every request is retried with exponential backoff on throttling, 5xx and network errors; what
 * remains is reported as `S3EndpointUnreachableError`, `S3AccessDeniedError`, `S3BucketNotFoundError`,
 * `S3ThrottledError` or `CheckpointError`, each naming the endpoint, bucket and what to check.
 */
export class S3CheckpointStorage implements CheckpointStorage {
  readonly location: string;
  /** Endpoint used, for messages: the configured URL or "the AWS S3 endpoint". */
  readonly endpointDescription: string;
  private readonly target: S3Location;
  private readonly sdk: S3Sdk;
  private readonly client: S3Client;
  private readonly retryPolicy: RetryPolicy;
  private readonly lockStaleMs: number;
  private readonly lockVerifyDelayMs: number;
  private readonly now: () => number;
  private readonly explicitEndpoint: boolean;
  /** What a worker thread needs to open this storage again; `null` with injected functions. */
  private readonly workerDescription: WorkerStorageDescription | null;
  private lockToken: string | undefined;
  private bucketChecked: Promise<void> | undefined;
  private batchDeleteUnsupported = false;
  private conditionalWritesUnsupported = false;

  /** `url` is `s3://bucket/prefix` (or an already parsed location). */
  constructor(url: string | S3Location, options: S3CheckpointStorageOptions = {}) {
    this.target = typeof url === 'string' ? parseS3Url(url) : url;
    this.location = this.target.url;
    const env = options.env ?? process.env;
    const endpoint = nonEmpty(options.endpoint) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
    if (endpoint !== undefined && !/^https?:\/\/[^/]+/i.test(endpoint)) {
      throw new InvalidArgumentError(
        `Invalid S3 endpoint ${JSON.stringify(endpoint)}: expected http(s)://host[:port], e.g. http://127.0.0.1:9000. ` +
          'Check the endpoint option and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3.',
      );
    }
    this.explicitEndpoint = endpoint !== undefined;
    this.endpointDescription = endpoint ?? 'the AWS S3 endpoint';
    const region =
      nonEmpty(options.region) ??
      nonEmpty(env.AWS_REGION) ??
      nonEmpty(env.AWS_DEFAULT_REGION) ??
      (endpoint !== undefined ? 'us-east-1' : undefined);
    const positive = (value: number | undefined, fallback: number, name: string): number => {
      if (value === undefined) return fallback;
      if (!Number.isFinite(value) || value < 0) {
        throw new InvalidArgumentError(`S3CheckpointStorage option ${name} must be a finite number >= 0, got ${value}.`);
      }
      return value;
    };
    this.retryPolicy = {
      maxAttempts: Math.max(1, Math.floor(positive(options.maxAttempts, DEFAULT_RETRY_POLICY.maxAttempts, 'maxAttempts'))),
      baseDelayMs: positive(options.retryBaseDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs, 'retryBaseDelayMs'),
      maxDelayMs: positive(options.retryMaxDelayMs, DEFAULT_RETRY_POLICY.maxDelayMs, 'retryMaxDelayMs'),
      sleep: options.sleep ?? DEFAULT_RETRY_POLICY.sleep,
    };
    this.lockStaleMs = positive(options.lockStaleMs ?? lockStaleMsFromEnv(env), 60_000, 'lockStaleMs');
    this.lockVerifyDelayMs = positive(options.lockVerifyDelayMs, 250, 'lockVerifyDelayMs');
    this.now = options.now ?? Date.now;

    this.sdk = (options.loadSdk ?? loadS3Sdk)();
    const injected = options.sleep !== undefined || options.now !== undefined || options.loadSdk !== undefined;
    const envCredentials =
      options.env !== undefined && nonEmpty(env.AWS_ACCESS_KEY_ID) !== undefined && nonEmpty(env.AWS_SECRET_ACCESS_KEY) !== undefined
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID as string, secretAccessKey: env.AWS_SECRET_ACCESS_KEY as string,
            ...(nonEmpty(env.AWS_SESSION_TOKEN) !== undefined ? { sessionToken: env.AWS_SESSION_TOKEN as string } : {}) }
        : undefined;
    const cloned = {
      endpoint,
      region,
      credentials: options.credentials ?? envCredentials,
      forcePathStyle: options.forcePathStyle,
      maxAttempts: options.maxAttempts,
      retryBaseDelayMs: options.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs,
      lockStaleMs: options.lockStaleMs,
      connectionTimeoutMs: options.connectionTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
    };
    this.workerDescription = injected
      ? null
      : { modelDir: this.location, s3: Object.fromEntries(Object.entries(cloned).filter(([, v]) => v !== undefined)) };
    const config: S3ClientConfig = {
      region,
      endpoint,
      forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
      credentials: options.credentials,
      // We retry ourselves, with a schedule we can state and test; SDK retries would multiply it.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: positive(options.connectionTimeoutMs, 5000, 'connectionTimeoutMs'),
        // The socket idle timeout: smithy's `requestTimeout` only logs a warning when exceeded (unless opted in),
        // so a server that accepts a request and never answers would hang the save forever.
        socketTimeout: positive(options.requestTimeoutMs, 60_000, 'requestTimeoutMs'),
      },
    };
    if (endpoint !== undefined) {
      // S3-compatible servers often reject the newer default CRC trailers; checkpoints carry their own checksums.
      config.requestChecksumCalculation = 'WHEN_REQUIRED';
      config.responseChecksumValidation = 'WHEN_REQUIRED';
    }
    this.client = new this.sdk.S3Client(config);
  }

  /** Closes the HTTP connections of the underlying client. The storage is unusable afterwards. */
  destroy(): void {
    this.client.destroy();
  }

  async read(relPath: string): Promise<Uint8Array> {
    const key = this.keyOf(relPath);
    try {
      return await this.call('read', key, async () => {
        const response = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.target.bucket, Key: key }));
        // Read the body inside the retried call: a connection reset mid-body is retried like any other.
        const bytes = response.Body === undefined ? new Uint8Array(0) : await response.Body.transformToByteArray();
        if (response.ContentLength !== undefined && bytes.byteLength !== response.ContentLength) {
          throw incompleteBody(response.ContentLength, bytes.byteLength);
        }
        return bytes;
      });
    } catch (error) {
      if (classifyS3Error(error) === 'not-found') {
        throw new CheckpointNotFoundError(`${this.describeKey(relPath)} does not exist.`, { cause: error });
      }
      throw this.unexpected('read', key, error);
    }
  }

  async writeAtomic(relPath: string, data: Uint8Array): Promise<void> {
    const key = this.keyOf(relPath);
    await this.put(key, data, {}).catch((error: unknown) => {
      throw this.unexpected('write', key, error);
    });
  }

  async exists(relPath: string): Promise<boolean> {
    return (await this.stat(relPath)) !== null;
  }

  async stat(relPath: string): Promise<StorageStat | null> {
    const key = this.keyOf(relPath);
    try {
      const head = await this.call('stat', key, () =>
        this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.target.bucket, Key: key })),
      );
      return { size: head.ContentLength ?? 0, mtimeMs: head.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (classifyS3Error(error) === 'not-found') return null;
      throw this.unexpected('stat', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix === '' ? this.target.prefix : this.keyOf(prefix);
    const rootLength = this.target.prefix === '' ? 0 : this.target.prefix.length + 1;
    const result: string[] = [];
    for (const key of await this.listKeys(base === '' ? '' : `${base}/`)) {
      const relPath = key.slice(rootLength);
      if (isLockObjectName(relPath)) continue;
      // Keys no backend could have written ("folder" markers ending in "/", "a//b", "../x") are not
      // checkpoint files; listing them would hand callers paths every other method rejects.
      if (!isCanonicalRelativePath(relPath)) continue;
      result.push(relPath);
    }
    return result.sort();
  }

  async delete(relPath: string): Promise<void> {
    const key = this.keyOf(relPath);
    const keys = [key, ...(await this.listKeys(`${key}/`))];
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      await this.deleteKeys(keys.slice(start, start + DELETE_BATCH));
    }
  }

  /**
   * Takes the writer lock: the object `<prefix>/.lock` holding an owner token, written only to take the lock,
   * beside the holder's heartbeat object `<prefix>/.lock-heartbeat-<token>`.
   *
   * 1. An existing lock whose last heartbeat (the newer of its own time and its heartbeat object's) is
   *    younger than `lockStaleMs` → `CheckpointLockError`.
   * 2. Otherwise PUT our record, conditionally: `If-None-Match: *` when there was none, `If-Match: <etag>`
   *    when replacing a stale one. AWS S3 and MinIO honour these, making the take-over exclusive.
   * 3. Wait `lockVerifyDelayMs`, read the lock back and require our owner token. Servers that ignore the
   *    conditional headers (s3rver does) get only this create-then-verify guarantee: two writers that both
   *    read "no lock" and PUT more than `lockVerifyDelayMs` apart could both succeed. It catches the common
   *    case, a restarted job racing the same job, but is not a consensus protocol.
   *
   * While held, the heartbeat object is rewritten every `lockStaleMs / 3`, so only a dead job's lock goes
   * stale. The lock object itself is never rewritten: a beat that was read before a take-over and is
   * written after it (a suspended holder, on a server that ignores `If-Match`) lands in the old holder's
   * own heartbeat object, and the take-over stands. If the heartbeat finds that another writer took the
   * lock over, the release function throws.
   */
  async lock(): Promise<HeldLock> {
    const lockKey = this.lockKey();
    const existing = await this.readLock();
    if (existing !== null) {
      const beatMs = await this.readHeartbeat(existing.record.owner);
      const ageMs = this.now() - Math.max(existing.record.heartbeatMs, beatMs ?? -Infinity);
      const { host: hostname, pid, owner: token } = existing.record;
      // A job restarted on the same machine after kill -9 takes over at once instead of waiting out the stale time.
      if (ageMs < this.lockStaleMs && !isHolderDeadOnThisHost({ hostname, pid, token })) {
        throw this.lockHeldError(existing.record, ageMs);
      }
    }
    const owner = randomUUID();
    const startedMs = this.now();
    const record: LockRecord = { owner, host: os.hostname(), pid: process.pid, acquiredMs: startedMs, heartbeatMs: startedMs };
    try {
      await this.putLock(record, existing === null ? { IfNoneMatch: '*' } : { IfMatch: existing.etag });
    } catch (error) {
      if (classifyS3Error(error) === 'precondition-failed') {
        throw new CheckpointLockError(
          `Another writer took the lock ${this.location}/${S3_LOCK_NAME} at the same moment; ` +
            'only one job may write a model directory. Stop the other job or use another model directory.',
          { cause: error },
        );
      }
      throw this.unexpected('lock', lockKey, error);
    }
    await this.retryPolicy.sleep(this.lockVerifyDelayMs);
    const check = await this.readLock();
    if (check === null || check.record.owner !== owner) {
      throw new CheckpointLockError(
        `Lost the race for the lock ${this.location}/${S3_LOCK_NAME}: another writer ` +
          `(${check === null ? 'which already released it' : `${check.record.host} pid ${check.record.pid}`}) ` +
          'wrote it at the same moment. Only one job may write a model directory.',
      );
    }
    // The previous holder's heartbeat object has no use any more (it may write it again if it is only
    // suspended: that object is its own and decides nothing).
    if (existing !== null && existing.record.owner !== owner) {
      await this.deleteKeys([this.heartbeatKey(existing.record.owner)]).catch(() => undefined);
    }
    rememberHeldToken(owner);
    this.lockToken = owner;
    const stopHeartbeat = this.startHeartbeat(record);
    const release = async (): Promise<void> => {
      if (this.lockToken === owner) this.lockToken = undefined;
      await stopHeartbeat();
    };
    return Object.assign(release, { token: owner });
  }

  /** The owner token of the lock `lock()` took, while held. */
  get heldLockToken(): string | undefined {
    return this.lockToken;
  }

  /** Throws `CheckpointLockError` unless the lock object names `token` as its owner. */
  async checkLockToken(token: string): Promise<void> {
    const current = await this.readLock();
    if (current !== null && current.record.owner === token) return;
    throw new CheckpointLockError(
      `This job lost the writer lock ${this.location}/${S3_LOCK_NAME}: it is now held by ` +
        `${current === null ? 'nobody' : `${current.record.host} pid ${current.record.pid}`} (taken over, probably because ` +
        'this job was suspended past the stale time). Nothing more is written by this job; the other job owns the model directory now.',
    );
  }

  /** Endpoint, region, credentials and limits as plain data; `null` with an injected sleep, clock or SDK. */
  describeForWorker(): WorkerStorageDescription | null {
    return this.workerDescription;
  }

  private startHeartbeat(record: LockRecord): () => Promise<void> {
    let lostTo: LockRecord | null | undefined;
    let inFlight: Promise<void> = Promise.resolve();
    let released = false;
    const heartbeatKey = this.heartbeatKey(record.owner);
    const beat = async (): Promise<void> => {
      const current = await this.readLock();
      if (current === null || current.record.owner !== record.owner) {
        lostTo = current?.record ?? null;
        clearInterval(timer);
        return;
      }
      const heartbeat: HeartbeatRecord = { owner: record.owner, heartbeatMs: this.now() };
      await this.put(heartbeatKey, encodeLock(heartbeat), {});
    };
    const timer = setInterval(() => {
      // A failed heartbeat (network blip) is retried at the next tick; the lock only goes stale after
      // three missed beats, and a take-over is detected by the owner check.
      inFlight = inFlight.then(beat).catch(() => undefined);
    }, Math.max(1, this.lockStaleMs / 3));
    timer.unref();

    return async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      forgetHeldToken(record.owner);
      await inFlight;
      if (lostTo === undefined) {
        const current = await this.readLock();
        if (current !== null && current.record.owner === record.owner) {
          await this.deleteKeys([this.lockKey(), heartbeatKey]);
          return;
        }
        lostTo = current?.record ?? null;
      }
      await this.deleteKeys([heartbeatKey]).catch(() => undefined);
      throw new CheckpointLockError(
        `The lock ${this.location}/${S3_LOCK_NAME} was taken over while this job held it ` +
          `(${lostTo === null ? 'it was deleted' : `by ${lostTo.host} pid ${lostTo.pid}`}), probably because its ` +
          `heartbeat could not be written for ${this.lockStaleMs} ms. Another job may have written to the model directory.`,
      );
    };
  }

  /**
   * Writes the lock record with a conditional header. Servers that reject conditional writes as not
   * implemented (rather than ignoring them) get an unconditional PUT: the read-back check in `lock()`
   * still applies.
   */
  private async putLock(record: LockRecord, condition: { IfNoneMatch: string } | { IfMatch: string }): Promise<void> {
    if (!this.conditionalWritesUnsupported) {
      try {
        await this.put(this.lockKey(), encodeLock(record), condition);
        return;
      } catch (error) {
        if (classifyS3Error(error) !== 'not-implemented') throw error;
        this.conditionalWritesUnsupported = true;
      }
    }
    await this.put(this.lockKey(), encodeLock(record), {});
  }

  private lockHeldError(record: LockRecord, ageMs: number): CheckpointLockHeldError {
    return new CheckpointLockHeldError(
      `${this.location} is locked by another writer (${record.host} pid ${record.pid}, last heartbeat ` +
        `${Math.round(ageMs / 1000)} s ago). Only one job may write a model directory: stop the other job. ` +
        `If it is dead, its lock is taken over once its heartbeat is ${Math.round(this.lockStaleMs / 1000)} s old, ` +
        `or delete ${this.location}/${S3_LOCK_NAME} by hand.`,
      { pid: record.pid, hostname: record.host, sinceMs: record.acquiredMs },
    );
  }

  /** The body and ETag of a lock or heartbeat object, or `null` when it does not exist. */
  private async readLockObject(key: string): Promise<{ body: Uint8Array; etag: string } | null> {
    try {
      return await this.call('lock read', key, async () => {
        const got = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.target.bucket, Key: key }));
        const body = got.Body === undefined ? new Uint8Array(0) : await got.Body.transformToByteArray();
        return { body, etag: got.ETag ?? '' };
      });
    } catch (error) {
      if (classifyS3Error(error) === 'not-found') return null;
      throw this.unexpected('lock read', key, error);
    }
  }

  private async readLock(): Promise<{ record: LockRecord; etag: string } | null> {
    const response = await this.readLockObject(this.lockKey());
    if (response === null) return null;
    const record = decodeLock(response.body);
    if (record === null) {
      throw new CheckpointLockError(
        `The lock object ${this.location}/${S3_LOCK_NAME} is not a lock written by tfjs-resumable ` +
          '(unreadable JSON or missing fields). Make sure no other job writes this model directory, then delete it.',
      );
    }
    return { record, etag: response.etag };
  }

  private lockKey(): string {
    return this.target.prefix === '' ? S3_LOCK_NAME : `${this.target.prefix}/${S3_LOCK_NAME}`;
  }

  private heartbeatKey(owner: string): string {
    const name = `${S3_HEARTBEAT_PREFIX}${owner}`;
    return this.target.prefix === '' ? name : `${this.target.prefix}/${name}`;
  }

  /**
   * The heartbeat time in `owner`'s heartbeat object, or `null` when there is none (not written yet, or
   * by a version that kept its heartbeat in the lock object) or it does not name `owner`.
   */
  private async readHeartbeat(owner: string): Promise<number | null> {
    const response = await this.readLockObject(this.heartbeatKey(owner));
    if (response === null) return null;
    try {
      const value = JSON.parse(new TextDecoder().decode(response.body)) as Partial<HeartbeatRecord> | null;
      return value !== null && value.owner === owner && typeof value.heartbeatMs === 'number' ? value.heartbeatMs : null;
    } catch {
      return null;
    }
  }

  /** Maps a storage-relative path to its object key, refusing escapes and the reserved lock name. */
  private keyOf(relPath: string): string {
    const clean = checkRelativePath(relPath, this.location);
    if (isLockObjectName(clean)) {
      throw new InvalidArgumentError(
        `${JSON.stringify(relPath)} is reserved for the writer lock of ${this.location}; use another name.`,
      );
    }
    return this.target.prefix === '' ? clean : `${this.target.prefix}/${clean}`;
  }

  private describeKey(relPath: string): string {
    return `${this.location}/${relPath}`;
  }

  /** PUTs one object (retried) and returns its ETag. */
  private async put(key: string, data: Uint8Array, conditions: { IfNoneMatch?: string; IfMatch?: string }): Promise<string> {
    const response = await this.call('write', key, () =>
      this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.target.bucket,
          Key: key,
          Body: data,
          ContentLength: data.byteLength,
          ContentType: 'application/octet-stream',
          ...conditions,
        }),
      ),
    );
    return response.ETag ?? '';
  }

  /** All keys starting with `keyPrefix` (`''`: the whole bucket), following continuation tokens. */
  private async listKeys(keyPrefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const response = await this.call('list', keyPrefix, () =>
        this.client.send(
          new this.sdk.ListObjectsV2Command({
            Bucket: this.target.bucket,
            Prefix: keyPrefix === '' ? undefined : keyPrefix,
            ContinuationToken: token,
          }),
        ),
      ).catch((error: unknown) => {
        throw this.unexpected('list', keyPrefix, error);
      });
      for (const object of response.Contents ?? []) {
        if (object.Key !== undefined) keys.push(object.Key);
      }
      if (response.IsTruncated !== true) return keys;
      const next = response.NextContinuationToken;
      if (next === undefined || next === token) {
        throw new CheckpointError(
          `S3 listing of ${this.location} at ${this.endpointDescription} is truncated but gave no new continuation ` +
            'token; the server does not implement ListObjectsV2 pagination correctly.',
        );
      }
      token = next;
    }
    throw new CheckpointError(
      `S3 listing of ${this.location} has more than ${MAX_LIST_PAGES * 1000} objects; refusing to list further.`,
    );
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    if (!this.batchDeleteUnsupported) {
      try {
        const response = await this.call('delete', keys[0], () =>
          this.client.send(
            new this.sdk.DeleteObjectsCommand({
              Bucket: this.target.bucket,
              Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
            }),
          ),
        );
        const failures = response.Errors ?? [];
        if (failures.length > 0) {
          const sample = failures.slice(0, 3).map((f) => `${f.Key}: ${f.Code} ${f.Message ?? ''}`.trim());
          throw new CheckpointError(
            `S3 could not delete ${failures.length} object(s) below ${this.location} (${sample.join('; ')}). ` +
              'Check that the credentials may delete objects (s3:DeleteObject).',
          );
        }
        return;
      } catch (error) {
        if (error instanceof CheckpointError) throw error;
        if (classifyS3Error(error) !== 'not-implemented') throw this.unexpected('delete', keys[0], error);
        // Some S3-compatible servers lack multi-object delete; fall back to one request per object.
        this.batchDeleteUnsupported = true;
      }
    }
    for (const key of keys) {
      await this.call('delete', key, () =>
        this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.target.bucket, Key: key })),
      ).catch((error: unknown) => {
        if (classifyS3Error(error) !== 'not-found') throw this.unexpected('delete', key, error);
      });
    }
  }

  /**
   * Runs one S3 request with retries, after a one-time check that the bucket exists (HEAD responses
   * carry no error code, so without it `stat` would report a missing bucket as a missing object). Failures
   * that have a clear cause become typed errors here; the rest are rethrown for the caller to interpret.
   */
  private async call<T>(operation: string, key: string, request: () => Promise<T>): Promise<T> {
    await this.checkBucket();
    return this.withRetries(operation, key, request);
  }

  private checkBucket(): Promise<void> {
    if (this.bucketChecked === undefined) {
      // A one-key listing rather than HeadBucket: it needs the same permission (s3:ListBucket, which
      // `list` needs anyway) and, unlike HEAD, its error responses carry a code such as NoSuchBucket.
      const check = this.withRetries('bucket check', '', () =>
        this.client.send(
          new this.sdk.ListObjectsV2Command({
            Bucket: this.target.bucket,
            Prefix: this.target.prefix === '' ? undefined : `${this.target.prefix}/`,
            MaxKeys: 1,
          }),
        ),
      ).then(
        () => undefined,
        (error: unknown) => {
          this.bucketChecked = undefined; // a later call retries the check (the bucket may be created meanwhile)
          if (error instanceof CheckpointError) throw error;
          const kind = classifyS3Error(error);
          if (kind === 'not-found' || kind === 'no-such-bucket') throw this.bucketMissing(error);
          throw this.unexpected('bucket check', '', error);
        },
      );
      this.bucketChecked = check;
    }
    return this.bucketChecked;
  }

  private async withRetries<T>(operation: string, key: string, request: () => Promise<T>): Promise<T> {
    try {
      return await retryWithBackoff(request, isRetryableS3Error, this.retryPolicy);
    } catch (error) {
      if (error instanceof RetriesExhausted) throw this.exhausted(operation, key, error);
      const kind = classifyS3Error(error);
      if (kind === 'no-credentials') {
        throw new S3CredentialsMissingError(
          `No AWS credentials found for ${this.location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ` +
            '(and AWS_SESSION_TOKEN for temporary keys), or AWS_PROFILE, or pass the credentials option. ' +
            `(${describeThrown(error)})`,
          { cause: error },
        );
      }
      if (kind === 'access-denied') {
        throw new S3AccessDeniedError(
          `S3 denied ${operation} of ${this.describeObject(key)} at ${this.endpointDescription}: ${describeThrown(error)}. ` +
            'Check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE, or the credentials ' +
            `option) and that they may read, write, list and delete in bucket "${this.target.bucket}".`,
          { cause: error },
        );
      }
      if (kind === 'no-such-bucket') throw this.bucketMissing(error);
      if (isMissingRegion(error)) {
        throw new CheckpointError(
          `No AWS region configured for ${this.location}: set AWS_REGION (or the region option).`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  private exhausted(operation: string, key: string, failure: RetriesExhausted): CheckpointError {
    const what = `${operation} of ${this.describeObject(key)}`;
    const last = describeThrown(failure.lastError);
    const kind = classifyS3Error(failure.lastError);
    if (kind === 'network') {
      return new S3EndpointUnreachableError(
        `Cannot reach the S3 endpoint ${this.endpointDescription} for ${what} after ${failure.attempts} attempts ` +
          `(${last}). Check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 (or the endpoint option) and the network.`,
        { cause: failure.lastError },
      );
    }
    if (kind === 'throttled') {
      return new S3ThrottledError(
        `S3 at ${this.endpointDescription} kept throttling ${what} (${last}) for ${failure.attempts} attempts. ` +
          'Reduce the checkpoint frequency or raise maxAttempts, or ask for a higher request rate.',
        { cause: failure.lastError },
      );
    }
    return new CheckpointError(
      `S3 at ${this.endpointDescription} failed ${what} ${failure.attempts} times (${last}). Try again later.`,
      { cause: failure.lastError },
    );
  }

  private bucketMissing(error: unknown): S3BucketNotFoundError {
    return new S3BucketNotFoundError(
      `The bucket "${this.target.bucket}" of ${this.location} does not exist at ${this.endpointDescription}. ` +
        `Create it (e.g. aws s3 mb s3://${this.target.bucket}${this.explicitEndpoint ? ' --endpoint-url <endpoint>' : ''}) ` +
        'or fix the model directory URL.',
      { cause: error },
    );
  }

  /** Wraps a failure no branch above explains; typed errors pass through unchanged. */
  private unexpected(operation: string, key: string, error: unknown): Error {
    if (error instanceof CheckpointError || error instanceof InvalidArgumentError) return error;
    return new CheckpointError(
      `S3 ${operation} of ${this.describeObject(key)} at ${this.endpointDescription} failed: ${describeThrown(error)}.`,
      { cause: error },
    );
  }

  private describeObject(key: string): string {
    return key === '' ? `s3://${this.target.bucket}` : `s3://${this.target.bucket}/${key}`;
  }
}

/** A body shorter or longer than announced: the connection broke mid-transfer, so it is retried. */
function incompleteBody(expected: number, received: number): Error {
  const error = new Error(`received ${received} of ${expected} announced bytes`);
  error.name = INCOMPLETE_BODY;
  return error;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function isCanonicalRelativePath(relPath: string): boolean {
  try {
    return checkRelativePath(relPath, '') === relPath;
  } catch {
    return false;
  }
}

function isMissingRegion(error: unknown): boolean {
  return error instanceof Error && /region is missing/i.test(error.message);
}

function encodeLock(record: LockRecord | HeartbeatRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

function decodeLock(bytes: Uint8Array): LockRecord | null {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LockRecord> | null;
    if (
      value === null ||
      typeof value !== 'object' ||
      typeof value.owner !== 'string' ||
      typeof value.host !== 'string' ||
      typeof value.pid !== 'number' ||
      typeof value.acquiredMs !== 'number' ||
      typeof value.heartbeatMs !== 'number'
    ) {
      return null;
    }
    return value as LockRecord;
  } catch {
    return null;
  }
}
