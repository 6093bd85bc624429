import { createHash } from 'crypto';

/** Byte sequences up to this size are hashed whole; bigger ones by samples, so building a dataset stays cheap. */
export const FULL_HASH_LIMIT = 8 << 20;
const SAMPLES = 128;
const SAMPLE_BYTES = 64 << 10;

/**
 * Identity of `size` bytes read through `readAt`, for the pipeline fingerprint of a source: `sha256:<hex>` of all of
 * them up to {@link FULL_HASH_LIMIT}, else `sampled-sha256:<hex>` over the size and 128 evenly spaced 64 KiB chunks
 * (the first and the last included): 8 MiB read whatever the size. Files and in-memory tensors share this rule.
 */
export function sampledBytesHash(size: number, readAt: (position: number, length: number) => Uint8Array): string {
  const hash = createHash('sha256');
  if (size <= FULL_HASH_LIMIT) {
    hash.update(readAt(0, size));
    return `sha256:${hash.digest('hex').slice(0, 32)}`;
  }
  hash.update(String(size));
  const span = size - SAMPLE_BYTES;
  for (let i = 0; i < SAMPLES; i++) hash.update(readAt(Math.floor((span * i) / (SAMPLES - 1)), SAMPLE_BYTES));
  return `sampled-sha256:${hash.digest('hex').slice(0, 32)}`;
}
