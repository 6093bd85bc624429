import { createHash } from 'crypto';
import * as fs from 'fs';

/** Files up to this size are hashed whole; bigger ones by samples, so building a dataset over a big file stays cheap. */
export const FULL_HASH_LIMIT = 8 << 20;
const SAMPLES = 128;
const SAMPLE_BYTES = 64 << 10;

/**
 * Identity of a file's bytes, for the pipeline fingerprint: `sha256:<hex>` of the whole file up to
 * {@link FULL_HASH_LIMIT}, else `sampled-sha256:<hex>` over the size and 128 evenly spaced 64 KiB chunks (the first
 * and the last included), 8 MiB read whatever the size. Size and mtime are not enough (an edited row keeps the size,
 * a copy to a new machine changes the mtime), so the bytes decide; a sampled hash can miss a same-size edit between
 * samples, the price of not reading a 100 GB file at every start.
 */
export function fileContentHash(path: string, size: number): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(path, 'r');
  try {
    if (size <= FULL_HASH_LIMIT) {
      hash.update(readAt(fd, 0, size));
      return `sha256:${hash.digest('hex').slice(0, 32)}`;
    }
    hash.update(String(size));
    const span = size - SAMPLE_BYTES;
    for (let i = 0; i < SAMPLES; i++) hash.update(readAt(fd, Math.floor((span * i) / (SAMPLES - 1)), SAMPLE_BYTES));
    return `sampled-sha256:${hash.digest('hex').slice(0, 32)}`;
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
