/**
 * Buffers for model snapshots, reused from one save to the next. A fresh 70 MB buffer costs the training
 * thread a page fault per 4 KiB page on its first write (about three times the copy itself); the checkpoint
 * writer hands each snapshot's buffers back here once they are written, so the next snapshot of the same
 * model copies into memory that is already mapped.
 *
 * The buffers are `SharedArrayBuffer`s: posted to the writer's worker and back they are shared, not moved,
 * and V8 counts shared memory as no thread's external memory. A moved 70 MB `ArrayBuffer` counted as that
 * much new external memory in the thread it arrived in, which started a full garbage collection there on
 * every save (measured: 10–15 ms of the worker's save latency, and as much again on the training thread
 * when the buffers came back).
 *
 * Bounded: at most four buffers are kept (one save in flight and one waiting need
 * two per snapshot part); older ones are left to the garbage collector.
 */
export class SnapshotBufferPool {
  private readonly free: ArrayBufferLike[] = [];

  /** A buffer of exactly `byteLength` bytes: a returned one when there is one, else a new one. */
  take(byteLength: number): ArrayBufferLike {
    const index = this.free.findIndex((buffer) => buffer.byteLength === byteLength);
    if (index < 0) return new SharedArrayBuffer(byteLength);
    return this.free.splice(index, 1)[0];
  }

  /**
   * Takes back buffers nothing uses any more (their snapshot was written or replaced). Detached buffers
   * (an `ArrayBuffer` moved to another thread) are ignored.
   */
  give(buffers: readonly ArrayBufferLike[]): void {
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
