import { InvalidArgumentError } from './errors';

/** The scheme tfjs uses for local files in Node (`tf.io` handlers, `tf.data.csv`). */
export const FILE_URL_SCHEME = 'file://';

/**
 * `scheme:/...`: a URL (or an `s3://` URL that lost a slash: `path.resolve('s3://b/x')` gives exactly `s3:/b/x`).
 * At least two letters, so a Windows drive (`C:/runs`) stays a path.
 */
const URL_LIKE = /^([a-z][a-z0-9+.-]+):\//i;

/** Whether `value` is a `file://` URL, the form tfjs code passes for local files in Node. */
export function isFileUrl(value: string): boolean {
  return value.slice(0, FILE_URL_SCHEME.length).toLowerCase() === FILE_URL_SCHEME;
}

/** The scheme of a URL-like string (`'gs'` for `gs://b/x`), or `undefined` for a plain path. */
export function urlSchemeOf(value: string): string | undefined {
  return URL_LIKE.exec(value)?.[1];
}

/**
 * The local path a `file://` URL names, read the way tfjs-node reads it (everything after `file://` is the
 * path): `file:///abs/dir` is `/abs/dir`, `file://./run-1` and `file://run-1` are relative to the current
 * directory. tfjs does not percent-decode, so neither do we: the same string names the same folder in both.
 */
export function localPathOfFileUrl(url: string): string {
  return url.slice(FILE_URL_SCHEME.length);
}

/**
 * The local path of a data file given the way tfjs code names it: a `file://` URL (what `tf.data.csv` needs in
 * Node) or a plain path. Other URLs are refused rather than read as a relative path: this package resumes by
 * seeking into the file, so it reads local files only. `caller` names the function in the message.
 */
export function localDataFilePath(source: string, caller: string): string {
  if (typeof source !== 'string' || source === '') {
    throw new InvalidArgumentError(`${caller}: expected a file path or a file:// URL, got ${source === '' ? 'an empty string' : typeof source}.`);
  }
  if (isFileUrl(source)) {
    const local = localPathOfFileUrl(source);
    if (local === '') throw new InvalidArgumentError(`${caller}(${JSON.stringify(source)}): the URL names no path after file://.`);
    return local;
  }
  const scheme = urlSchemeOf(source);
  if (scheme !== undefined) {
    throw new InvalidArgumentError(
      `${caller}(${JSON.stringify(source)}): the ${scheme}: scheme is not supported; data files are read from the local ` +
        'disk (a path or a file:// URL). Copy the file to local disk first.',
    );
  }
  return source;
}
