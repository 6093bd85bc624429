import { CheckpointLockError } from '../errors';
import { readChecksummed } from './file_content';
import type { BatchSeal, CheckpointStorage, ChecksummedBytes, FileContent, PartReady, PublishCheck, StorageStat } from './storage';

/**
 * A storage that writes only while its job still holds the modelDir's writer lock: before every write
 * and delete it checks the lock's fencing token (`checkLockToken`), and on a storage with batch writes
 * once more after the data is durable and right before it is renamed into place (a job suspended while
 * its fsyncs ran is caught there, not only one suspended before the write). Once a check fails it refuses
 * every later write too, so a job that was suspended past the stale time and lost its lock to another job
 * writes nothing more, and none of its objects can become latest over the new owner's. Until a token
 * is set (a job that writes without the lock, e.g. a non-chief worker's input checkpoints) it passes through.
 */
export class FencedStorage implements CheckpointStorage {
  readonly location: string;
  private token: string | undefined;
  private lost: CheckpointLockError | undefined;
  /** Present when the inner storage batches writes (see `CheckpointStorage.writeAtomicBatch`). */
  readonly writeAtomicBatch?: (
    files: ReadonlyArray<readonly [string, FileContent]>,
    seal?: BatchSeal,
    ready?: PartReady,
    beforePublish?: PublishCheck,
  ) => Promise<number[]>;
  private readonly batch: CheckpointStorage['writeAtomicBatch'];

  /** @param inner the storage written through; it must offer `checkLockToken` for a token to be enforced. */
  constructor(private readonly inner: CheckpointStorage) {
    this.location = inner.location;
    const batch = inner.writeAtomicBatch?.bind(inner);
    this.batch = batch;
    if (batch !== undefined) {
      this.writeAtomicBatch = async (files, seal, ready, beforePublish) => {
        await this.checkFence();
        return batch(files, seal, ready, async () => {
          await this.checkFence();
          await beforePublish?.();
        });
      };
    }
  }

  /** Enforce `token` from now on (the token of the lock the job took). */
  setToken(token: string): void {
    this.token = token;
  }

  read(relPath: string): Promise<Uint8Array> {
    return this.inner.read(relPath);
  }

  readChecksummed(relPath: string): Promise<ChecksummedBytes> {
    return readChecksummed(this.inner, relPath);
  }

  async writeAtomic(relPath: string, data: Uint8Array): Promise<void> {
    await this.checkFence();
    // Through the batch when there is one, for its check right before the rename (index writes above all).
    if (this.batch !== undefined) await this.batch([[relPath, data]], undefined, undefined, () => this.checkFence());
    else await this.inner.writeAtomic(relPath, data);
  }


  exists(relPath: string): Promise<boolean> {
    return this.inner.exists(relPath);
  }

  stat(relPath: string): Promise<StorageStat | null> {
    return this.inner.stat(relPath);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  async delete(relPath: string): Promise<void> {
    await this.checkFence();
    await this.inner.delete(relPath);
  }

  lock(): ReturnType<CheckpointStorage['lock']> {
    return this.inner.lock();
  }

  private async checkFence(): Promise<void> {
    if (this.lost !== undefined) throw this.lost;
    if (this.token === undefined || this.inner.checkLockToken === undefined) return;
    try {
      await this.inner.checkLockToken(this.token);
    } catch (e) {
      if (e instanceof CheckpointLockError) this.lost = e;
      throw e;
    }
  }
}
