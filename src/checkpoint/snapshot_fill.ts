import { CheckpointError } from '../errors';

/**
 * How far the training thread has copied a snapshot into its shared buffers. The checkpoint writer posts
 * a model job to its worker before the copy, and the worker writes each chunk as soon as it is copied: the
 * copy (~20 ms for a 6M-parameter model with Adam) overlaps the file writes instead of preceding them.
 *
 * Plain data, so it crosses to the worker inside the job: `progress` lives in a `SharedArrayBuffer` and
 * holds, per buffer, the number of 4-byte words copied from its start, or `FILL_ABORTED` (-1) when the
 * copy failed (the worker then fails the save instead of writing stale bytes).
 */
export interface SnapshotFill {
  /** The snapshot's buffers, in the order of `progress`. */
  readonly buffers: readonly SharedArrayBuffer[];
  /** Over a `SharedArrayBuffer`: words copied into `buffers[i]` so far, or -1 when the copy failed. */
  readonly progress: Int32Array;
}

/** Progress value of a copy that failed. */
export const FILL_ABORTED = -1;

/** How long the worker waits for the training thread to copy the next bytes before it fails the save. */
const FILL_TIMEOUT_MS = 60_000;

/**
 * A fill for `buffers` with nothing copied yet, or `undefined` when they cannot be shared with the worker
 * while being filled (plain `ArrayBuffer`s move with the message, so they are posted once filled) or
 * when a buffer is too large to count in words of an Int32.
 */
export function createFill(buffers: readonly ArrayBufferLike[]): SnapshotFill | undefined {
  const shared: SharedArrayBuffer[] = [];
  for (const buffer of buffers) {
    if (!isSharedArrayBuffer(buffer) || buffer.byteLength / 4 > 0x7fffffff) return undefined;
    shared.push(buffer);
  }
  return { buffers: shared, progress: new Int32Array(new SharedArrayBuffer(4 * shared.length)) };
}

/**
 * Whether `buffer` is shared memory, by its tag rather than `instanceof`: a buffer that came back from
 * the worker in a message is made by the receiving thread's main context, which is not the context of
 * code run in a `vm` sandbox (test runners).
 */
function isSharedArrayBuffer(buffer: ArrayBufferLike): buffer is SharedArrayBuffer {
  return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}

/** Training thread: the first `bytes` bytes of `fill.buffers[index]` are copied. */
export function advanceFill(fill: SnapshotFill, index: number, bytes: number): void {
  Atomics.store(fill.progress, index, bytes / 4);
  Atomics.notify(fill.progress, index);
}

/** Training thread: the copy failed; whoever waits for these bytes fails instead. */
export function abortFill(fill: SnapshotFill): void {
  for (let i = 0; i < fill.progress.length; i++) {
    Atomics.store(fill.progress, i, FILL_ABORTED);
    Atomics.notify(fill.progress, i);
  }
}

/**
 * Writer: resolves once the bytes of `view` up to `end` (relative to the view) are copied; views into
 * other (not shared) buffers are ready at once.
 * @throws CheckpointError when the training thread's copy failed or did not progress within a minute, or
 *   when `view` is shared memory other than the fill's.
 */
export async function awaitFilled(fill: SnapshotFill, view: Uint8Array, end: number): Promise<void> {
  const index = fill.buffers.indexOf(view.buffer as SharedArrayBuffer);
  if (index < 0) {
    // Only a snapshot's buffers are shared: a shared one that is not the fill's would be written unchecked.
    if (isSharedArrayBuffer(view.buffer)) {
      throw new CheckpointError('A checkpoint file refers to shared memory that is not its snapshot being copied; nothing was written.');
    }
    return;
  }
  const words = Math.ceil((view.byteOffset + end) / 4);
  for (;;) {
    const copied = Atomics.load(fill.progress, index);
    if (copied === FILL_ABORTED) {
      throw new CheckpointError('The snapshot of this checkpoint could not be copied on the training thread; nothing was written.');
    }
    if (copied >= words) return;
    const waited = Atomics.waitAsync(fill.progress, index, copied, FILL_TIMEOUT_MS);
    if ((waited.async ? await waited.value : waited.value) === 'timed-out') {
      throw new CheckpointError(`The training thread did not copy this checkpoint's snapshot within ${FILL_TIMEOUT_MS} ms; nothing was written.`);
    }
  }
}

/** Writer: resolves once every buffer of the fill is copied whole (see {@link awaitFilled}). */
export async function awaitFillComplete(fill: SnapshotFill): Promise<void> {
  for (const buffer of fill.buffers) await awaitFilled(fill, new Uint8Array(buffer), buffer.byteLength);
}
