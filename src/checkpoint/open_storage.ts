import { InvalidArgumentError } from '../errors';
import { isFileUrl, localPathOfFileUrl, urlSchemeOf } from '../file_url';
import { LocalCheckpointStorage, type LocalCheckpointStorageOptions } from './local_storage';
import { S3CheckpointStorage, type S3CheckpointStorageOptions } from './s3_storage';
import { isS3Url, parseS3Url, type S3Location } from './s3_url';
import type { CheckpointStorage } from './storage';

/** Options for whichever backend {@link openStorage} picks. */
export interface OpenStorageOptions {
  /** Used when the modelDir is a local directory (a path or a `file://` URL). */
  local?: LocalCheckpointStorageOptions;
  /** Used when the modelDir is an `s3://bucket/prefix` URL. */
  s3?: S3CheckpointStorageOptions;
}

/** A modelDir string is refused: an unsupported scheme, or no text at all. */
export class UnsupportedModelDirError extends InvalidArgumentError {}

/** What a modelDir string names, as `parseModelDir` reads it. */
export type ModelDirLocation =
  | {
      /** An object store prefix. */
      kind: 's3';
      /** The bucket, prefix and canonical URL. */
      location: S3Location;
    }
  | {
      /** A directory on this machine. */
      kind: 'local';
      /** The path as given (a `file://` URL already turned into its path), not yet resolved. */
      path: string;
    };

/**
 * The only place a modelDir string is interpreted, so a string means the same storage from every entry
 * point (resumableFit, the hooks, the Estimator and RunConfig, the checkpoint functions, the CLI):
 * - `s3://bucket/prefix` is S3 (validated: bucket name rules, no `.`/`..` segments, no control characters);
 * - `file://path` (the form tfjs uses in Node) and a plain path are a local directory;
 * - any other scheme (`gs://`, `http://`, `s3:/` with one slash, ...) is refused with
 *   {@link UnsupportedModelDirError}, never turned into a local folder name.
 * Touches nothing: use it to check a modelDir before any work starts.
 */
export function parseModelDir(modelDir: string): ModelDirLocation {
  if (typeof modelDir !== 'string' || modelDir.trim() === '') {
    throw new UnsupportedModelDirError(
      `The modelDir is ${typeof modelDir === 'string' ? 'an empty string' : describe(modelDir)}: pass a directory path, ` +
        'a file:// URL or an s3://bucket/prefix URL.',
    );
  }
  if (isS3Url(modelDir)) return { kind: 's3', location: parseS3Url(modelDir) };
  if (isFileUrl(modelDir)) {
    const local = localPathOfFileUrl(modelDir);
    if (local === '') throw new UnsupportedModelDirError(`The modelDir ${JSON.stringify(modelDir)} names no path after file://.`);
    return { kind: 'local', path: local };
  }
  const scheme = urlSchemeOf(modelDir);
  if (scheme !== undefined) {
    const hint = /^s3$/i.test(scheme) ? ` Did you mean s3://${modelDir.slice(scheme.length + 1).replace(/^\/+/, '')}?` : '';
    throw new UnsupportedModelDirError(
      `The modelDir ${JSON.stringify(modelDir)} uses the ${scheme}: scheme, which tfjs-resumable does not serve.${hint} ` +
        'Use a local path (or file://path), or s3://bucket/prefix for S3 and S3-compatible stores ' +
        '(GCS, MinIO, R2: set AWS_ENDPOINT_URL_S3 to their S3 endpoint).',
    );
  }
  return { kind: 'local', path: modelDir };
}

/**
 * The storage behind a modelDir, as `parseModelDir` reads the string: S3 (loading
 * `@aws-sdk/client-s3` only then) or a local directory. An already opened storage is passed through, so
 * every API that takes a modelDir also takes a custom backend. Nothing is touched on disk or on the
 * network until the storage is used.
 * @throws UnsupportedModelDirError for a scheme we do not serve or an empty string; InvalidArgumentError
 *   for a malformed `s3://` URL.
 */
export function openStorage(modelDir: string | CheckpointStorage, options: OpenStorageOptions = {}): CheckpointStorage {
  if (typeof modelDir !== 'string') {
    if (modelDir === null || typeof modelDir !== 'object' || typeof modelDir.read !== 'function') {
      throw new UnsupportedModelDirError(
        `A modelDir must be a path, a file:// or s3://bucket/prefix URL, or a CheckpointStorage; got ${describe(modelDir)}.`,
      );
    }
    return modelDir;
  }
  const parsed = parseModelDir(modelDir);
  return parsed.kind === 's3'
    ? new S3CheckpointStorage(parsed.location, options.s3)
    : new LocalCheckpointStorage(parsed.path, options.local);
}

/**
 * Releases what a storage opened by {@link openStorage} holds (an S3 client's sockets). Storages the
 * caller passed in are the caller's to close, so only close what you opened.
 */
export function closeStorage(storage: CheckpointStorage): void {
  if (storage instanceof S3CheckpointStorage) storage.destroy();
}

/**
 * Runs `use` on the storage of `modelDir` and closes it afterwards if it was opened here from a string
 * (a storage object passed in stays open).
 */
export async function withStorage<T>(
  modelDir: string | CheckpointStorage,
  options: OpenStorageOptions,
  use: (storage: CheckpointStorage) => Promise<T>,
): Promise<T> {
  const storage = openStorage(modelDir, options);
  try {
    return await use(storage);
  } finally {
    if (storage !== modelDir) closeStorage(storage);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object that is not a CheckpointStorage' : `a ${typeof value}`;
}
