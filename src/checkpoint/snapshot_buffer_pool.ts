/**
 * Buffers for model snapshots, reused from one save to the next. A fresh 70 MB `ArrayBuffer` costs the
 * training thread a page fault per 4 KiB page on its first write (about three times the copy itself);
 * the checkpoint writer hands each snapshot's buffers back here once they are written, so the next
 * snapshot of the same model copies into memory that is already mapped.
 *
 * Bounded: at most four buffers are kept (one save in flight and one waiting need
 * two per snapshot part); older ones are left to the garbage collector.
 */
export class SnapshotBufferPool {
  private readonly free: ArrayBuffer[] = [];

  /** A buffer of exactly `byteLength` bytes: a returned one when there is one, else a new one. */
  take(byteLength: number): ArrayBuffer {
    const index = this.free.findIndex((buffer) => buffer.byteLength === byteLength);
    if (index < 0) return new ArrayBuffer(byteLength);
    return this.free.splice(index, 1)[0];
  }

  /**
   * Takes back buffers nothing uses any more (their snapshot was written or replaced). Detached buffers
   * (moved to another thread) are ignored.
   */
  give(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (buffer.byteLength === 0 || this.free.includes(buffer)) continue;
      this.free.push(buffer);
    }
    if (this.free.length > MAX_POOLED_BUFFERS) this.free.splice(0, this.free.length - MAX_POOLED_BUFFERS);
  }

  /** How many buffers wait for reuse. */
  get size(): number {
    return this.free.length;
  }
}

/** Weights and optimizer state are one buffer each; two snapshots' worth covers one in flight and one waiting. */
export const MAX_POOLED_BUFFERS = 4;
