import * as path from 'path';
import { openStorage, parseModelDir } from '../checkpoint/open_storage';
import { isS3Url, parseS3Url } from '../checkpoint/s3_url';
import type { CheckpointStorage } from '../checkpoint/storage';

/**
 * Opens a modelDir given on the command line (a local path or `s3://bucket/prefix`) for reading only: the
 * CLI never creates a directory, takes the writer lock or changes a file.
 */
export function openModelDir(dir: string): CheckpointStorage {
  return openStorage(dir, { local: { readOnly: true } });
}

export { closeStorage } from '../checkpoint/open_storage';

/** A path split into the directory that holds it and its last segment. */
export interface SplitPath {
  /** The containing modelDir (a local path or an `s3://` URL); `null` for a bucket root or `/`. */
  parent: string | null;
  /** The last segment, e.g. `model.ckpt-120`; `''` for a bucket root. */
  leaf: string;
}

/** Splits `.../model.ckpt-120` or `s3://bucket/run/input.ckpt-120` into its modelDir and its name. */
export function splitPath(target: string): SplitPath {
  if (isS3Url(target)) {
    const { bucket, prefix } = parseS3Url(target);
    if (prefix === '') return { parent: null, leaf: '' };
    const slash = prefix.lastIndexOf('/');
    return {
      parent: slash === -1 ? `s3://${bucket}` : `s3://${bucket}/${prefix.slice(0, slash)}`,
      leaf: prefix.slice(slash + 1),
    };
  }
  // Through parseModelDir, so a file:// URL is read as tfjs reads it and an unknown scheme is refused.
  const parsed = parseModelDir(target);
  const resolved = path.resolve(parsed.kind === 'local' ? parsed.path : target);
  const parent = path.dirname(resolved);
  return { parent: parent === resolved ? null : parent, leaf: path.basename(resolved) };
}
