import * as tf from '@tensorflow/tfjs';
import type { BlobReader } from './blob';
import { decodeElements, encodeElements } from './element_codec';
import { StateFormatError } from './errors';
import type { Item } from './iterator';
import type { PipelineNode } from './node';
import type { JsonValue } from './state';
import { readBase64, readBool, readObject } from './state_fields';

/** A buffer slot: an element, or `null` for an end-of-upstream marker (tf.data's shuffle buffer holds those). */
export type Slot<T> = Item<T> | null;

/**
 * What a buffer holds: elements, end markers, and (after a restore) the bare keys of elements not recomputed yet,
 * as plain numbers: a restored `shuffle(1e5)` holds 1e5 numbers, not 1e5 objects (a third of the restore time).
 */
export type BufferSlot<T> = Slot<T> | number;

/**
 * Slots restored from a state, created on first use: `load` recomputes or decodes them; `resave` writes them again
 * unchanged, for a save that happens before anything was pulled.
 */
interface PendingSlots<T> {
  load: () => Promise<Slot<T>[]>;
  resave: () => JsonValue;
}

/** What a validated saved buffer becomes: slots at once (keys over a random-access upstream), or a pending load. */
type RestoredSlots<T> = { slots: BufferSlot<T>[]; pending: null } | { slots: null; pending: PendingSlots<T> };

// Keys are stored shifted by one so 0 can mark the end of the upstream.
const END_MARKER = 0;
const MAX_KEY = 0xffffffff - 1;

function isUnloaded<T>(slot: BufferSlot<T>): slot is number {
  return typeof slot === 'number';
}

/**
 * Save buffered slots, JSON-safe. Over an addressable upstream only their keys are written, as a base64 string of
 * little-endian u32 (5.3 characters per element); otherwise the elements themselves are materialized with the
 * element codec, also as base64.
 */
export function saveSlots<T>(slots: readonly BufferSlot<T>[], upstream: PipelineNode<T>): JsonValue {
  if (upstream.addressable && slots.every((s) => s === null || isUnloaded(s) || (s.key !== null && s.key < MAX_KEY))) {
    const keys = new Uint32Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      keys[i] = s === null ? END_MARKER : (isUnloaded(s) ? s : (s.key as number)) + 1;
    }
    return { keys: Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength).toString('base64') };
  }
  // Unloaded slots exist only over addressable upstreams, whose keys took the branch above.
  const present = (slots as Slot<T>[]).map((s) => (s === null ? null : { v: s.value, k: s.key }));
  return { elements: Buffer.from(encodeElements(present)).toString('base64') };
}

/**
 * Validate a saved buffer completely now (`StateFormatError` naming `path`): the format-2 forms `{keys: base64}`
 * and `{elements: base64}`, and format 1's `{keys: boolean, ref}` into the state's blob.
 */
function restoreSlots<T>(
  saved: JsonValue | undefined,
  upstream: PipelineNode<T>,
  blobs: BlobReader,
  path: string,
  capacity: number,
): RestoredSlots<T> {
  const o = readObject(saved, path);
  let byKey: boolean;
  let bytes: Uint8Array;
  if (typeof o.keys === 'string' || typeof o.elements === 'string') {
    byKey = typeof o.keys === 'string';
    bytes = byKey ? readBase64(o.keys, `${path}.keys`) : readBase64(o.elements, `${path}.elements`);
  } else {
    byKey = readBool(o.keys, `${path}.keys`);
    bytes = blobs.get(o.ref, `${path}.ref`);
  }
  if (!byKey) {
    const make = decodeElements(bytes, path);
    const resave = (): JsonValue => ({ elements: Buffer.from(bytes).toString('base64') });
    const load = async (): Promise<Slot<T>[]> => {
      const decoded = make();
      if (decoded.length > capacity) {
        tf.dispose(decoded as tf.TensorContainer[]);
        throw new StateFormatError(`${path}: ${decoded.length} buffered elements exceed the buffer size ${capacity}`);
      }
      return decoded.map((d) => {
        if (d === null) return null;
        const e = d as { v: T; k: number | null };
        return { value: e.v, key: typeof e.k === 'number' ? e.k : null };
      });
    };
    return { slots: null, pending: { load, resave } };
  }
  if (!upstream.addressable) throw new StateFormatError(`${path}: saved as source positions, but the upstream cannot be re-read`);
  if (bytes.byteLength % 4 !== 0) throw new StateFormatError(`${path}: key list of ${bytes.byteLength} bytes is not a multiple of 4`);
  const keys = new Uint32Array(bytes.slice().buffer);
  if (keys.length > capacity) throw new StateFormatError(`${path}: ${keys.length} buffered elements exceed the buffer size ${capacity}`);
  const limit = upstream.keyLimit;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== END_MARKER && keys[i] - 1 >= limit) {
      throw new StateFormatError(`${path}: buffered element ${i} is at source position ${keys[i] - 1}, outside a source of ${limit}`);
    }
  }
  if (upstream.randomAccess) {
    const slots: BufferSlot<T>[] = new Array<BufferSlot<T>>(keys.length);
    for (let i = 0; i < keys.length; i++) slots[i] = keys[i] === END_MARKER ? null : keys[i] - 1;
    return { slots, pending: null };
  }
  const load = async (): Promise<Slot<T>[]> => {
    const wanted = Array.from(keys).filter((k) => k !== END_MARKER).map((k) => k - 1);
    const values = await upstream.fetchMany(wanted);
    let next = 0;
    return Array.from(keys, (k) => (k === END_MARKER ? null : { value: values[next++], key: k - 1 }));
  };
  return { slots: null, pending: { load, resave: () => ({ keys: Buffer.from(bytes).toString('base64') }) } };
}

/** Dispose the tensors of buffered slots. */
export function disposeSlots<T>(slots: readonly BufferSlot<T>[]): void {
  for (const s of slots) if (s !== null && !isUnloaded(s)) tf.dispose(s.value as tf.TensorContainer);
}

/**
 * The element buffer of a buffering iterator (prefetch, shuffle): its slots in memory, or slots restored from a
 * state and not loaded yet (restores must not allocate or read). Over a random-access upstream restored slots are
 * keys until delivered, so restoring `shuffle(1e5)` costs one element fetch for the first element, not 1e5.
 */
export class SlotBuffer<T> {
  private slots: BufferSlot<T>[] = [];
  private pending: PendingSlots<T> | null = null;

  constructor(
    /** The node whose elements are buffered: it decides keys versus elements and recomputes keys. */
    private readonly upstream: PipelineNode<T>,
    /** The most slots a saved buffer may hold. */
    private readonly capacity: number,
  ) {}

  /** The slots, for the iterator to change in place; loads restored slots first. Call at the start of `pull()`. */
  async load(): Promise<BufferSlot<T>[]> {
    if (this.pending !== null) {
      const pending = this.pending;
      this.pending = null;
      this.slots = await pending.load();
    }
    return this.slots;
  }

  /** Number of slots held, or `null` while restored slots are not loaded yet. */
  loadedCount(): number | null {
    return this.pending === null ? this.slots.length : null;
  }

  /** The element of a slot taken out of the buffer, recomputing it from its key if it was not loaded. */
  async resolve(slot: BufferSlot<T>): Promise<Slot<T>> {
    if (!isUnloaded(slot)) return slot;
    const [value] = await this.upstream.fetchMany([slot]);
    return { value, key: slot };
  }

  /** The saved form of the buffer; restored slots not loaded yet are written again unchanged. */
  save(): JsonValue {
    return this.pending !== null ? this.pending.resave() : saveSlots(this.slots, this.upstream);
  }

  /**
   * Validate a saved buffer (`StateFormatError` naming `path`) without changing this one; return what replaces
   * this buffer's slots with it, disposing the slots held now.
   */
  read(saved: JsonValue | undefined, blobs: BlobReader, path: string): () => void {
    const restored = restoreSlots(saved, this.upstream, blobs, path, this.capacity);
    return () => {
      this.dispose();
      if (restored.slots !== null) this.slots = restored.slots;
      this.pending = restored.pending;
    };
  }

  /** Forget the buffered slots (disposing their tensors), for a restore that refills the buffer by replaying. */
  clear(): void {
    this.dispose();
    this.pending = null;
  }

  /** Dispose the tensors of the slots held and empty the buffer. */
  dispose(): void {
    disposeSlots(this.slots);
    this.slots = [];
  }
}
