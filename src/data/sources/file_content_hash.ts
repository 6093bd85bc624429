import * as fs from 'fs';
import { sampledBytesHash } from './sampled_bytes_hash';

/**
 * Identity of a file's bytes, for the pipeline fingerprint (see {@link sampledBytesHash}: whole up to 8 MiB, else
 * sampled). Size and mtime are not enough (an edited row keeps the size, a copy to a new machine changes the
 * mtime), so the bytes decide; a sampled hash can miss a same-size edit between samples, the price of not reading a
 * 100 GB file at every start.
 */
export function fileContentHash(path: string, size: number): string {
  const fd = fs.openSync(path, 'r');
  try {
    return sampledBytesHash(size, (position, length) => readAt(fd, position, length));
  } finally {
    fs.closeSync(fd);
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}
