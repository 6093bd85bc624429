import { InvalidArgumentError } from '../errors';

/** A parsed `s3://bucket/prefix` model directory. */
export interface S3Location {
  /** Bucket name, validated against S3's bucket naming rules. */
  bucket: string;
  /** Key prefix without leading or trailing `/`; `''` for the bucket root. */
  prefix: string;
  /** Canonical form, `s3://bucket/prefix` (or `s3://bucket` for the root), used in messages. */
  url: string;
}

const SCHEME = /^s3:\/\//i;
const EXPECTED_FORM =
  'Expected s3://<bucket>/<optional/key/prefix>, e.g. s3://my-bucket/runs/mnist; ' +
  'bucket names are 3-63 characters of lowercase letters, digits, "." and "-".';

/** Whether `value` is an `s3://` URL (so a model directory should use S3 storage, not the local disk). */
export function isS3Url(value: unknown): boolean {
  return typeof value === 'string' && SCHEME.test(value);
}

/**
 * Parses and validates `s3://bucket/prefix`. The prefix is normalised (leading, trailing and repeated
 * slashes are dropped) so `s3://b/runs/`, `s3://b/runs` and `s3://b//runs` name the same directory; a
 * `.` or `..` segment, a backslash or a control character is rejected rather than interpreted, because
 * S3 keys are literal strings and such a prefix almost always means a mistyped local path.
 * Throws `InvalidArgumentError` stating the expected form.
 */
export function parseS3Url(value: string): S3Location {
  const reject = (why: string): never => {
    throw new InvalidArgumentError(`Invalid S3 model directory ${JSON.stringify(value)}: ${why}. ${EXPECTED_FORM}`);
  };
  if (!isS3Url(value)) reject('it does not start with s3://');
  const rest = value.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const rawPrefix = slash === -1 ? '' : rest.slice(slash + 1);
  checkBucketName(bucket, reject);

  if (/[\u0000-\u001f\u007f]/.test(rawPrefix)) reject('the key prefix contains a control character');
  if (rawPrefix.includes('\\')) reject('the key prefix contains a backslash');
  const segments = rawPrefix.split('/').filter((s) => s !== '');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') reject(`the key prefix contains a "${segment}" segment`);
  }
  const prefix = segments.join('/');
  // S3 keys are at most 1024 bytes; leave room for the checkpoint file names below the prefix.
  if (Buffer.byteLength(prefix, 'utf8') > 768) reject('the key prefix is longer than 768 bytes');
  return { bucket, prefix, url: prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}` };
}

/** S3's bucket naming rules (general purpose buckets), checked locally for a message better than a 400. */
function checkBucketName(bucket: string, reject: (why: string) => never): void {
  if (bucket === '') reject('the bucket name is empty');
  if (bucket.length < 3 || bucket.length > 63) reject(`bucket name "${bucket}" must be 3-63 characters long`);
  if (!/^[a-z0-9.-]+$/.test(bucket)) {
    reject(`bucket name "${bucket}" may only contain lowercase letters, digits, "." and "-"`);
  }
  if (!/^[a-z0-9]/.test(bucket) || !/[a-z0-9]$/.test(bucket)) {
    reject(`bucket name "${bucket}" must begin and end with a letter or digit`);
  }
  if (bucket.includes('..')) reject(`bucket name "${bucket}" must not contain two adjacent periods`);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bucket)) reject(`bucket name "${bucket}" must not be formatted as an IP address`);
  if (bucket.startsWith('xn--') || bucket.startsWith('sthree-')) {
    reject(`bucket name "${bucket}" uses a prefix reserved by S3`);
  }
  if (bucket.endsWith('-s3alias') || bucket.endsWith('--ol-s3')) {
    reject(`bucket name "${bucket}" uses a suffix reserved by S3`);
  }
}
