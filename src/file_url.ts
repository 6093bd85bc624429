/** The scheme tfjs uses for local files in Node (`tf.io` handlers, `tf.data.csv`). */
export const FILE_URL_SCHEME = 'file://';

/** Whether `value` is a `file://` URL, the form tfjs code passes for local files in Node. */
export function isFileUrl(value: string): boolean {
  return value.slice(0, FILE_URL_SCHEME.length).toLowerCase() === FILE_URL_SCHEME;
}

/**
 * The local path a `file://` URL names, read the way tfjs-node reads it (everything after `file://` is the
 * path): `file:///abs/dir` is `/abs/dir`, `file://./run-1` and `file://run-1` are relative to the current
 * directory. tfjs does not percent-decode, so neither do we: the same string names the same folder in both.
 */
export function localPathOfFileUrl(url: string): string {
  return url.slice(FILE_URL_SCHEME.length);
}
