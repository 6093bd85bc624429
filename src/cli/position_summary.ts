import type { JsonValue } from '../data/state';

/*
 * Turns a saved iterator position (nested JSON, one object per op) into sentences a user reads: "epoch 2 of 3",
 * "shuffle buffer 8 of 8", "at element 12 of 20". The op list of the fingerprint is in pre-order, the same order
 * the iterator state nests in, so both are walked together. Anything that does not fit the expected shape falls
 * back to "position not recognized" (the raw state stays available in `--json`).
 */

type JsonObject = { [key: string]: JsonValue };

/** A human summary of a position: one headline and one line per op that holds state. */
export interface PositionSummary {
  /** e.g. `epoch 2 of 2, batch 3, shuffle buffer 6 of 6` (batch N: N batches delivered in the epoch). */
  headline: string;
  /** `<op>: <what it holds>`, outermost op first. */
  details: string[];
}

function asObject(v: JsonValue | undefined): JsonObject | null {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : null;
}

function argOf(op: string, name: string): string | null {
  const m = new RegExp(`[(,\\s]${name}=([^,)]+)`).exec(op);
  return m === null ? null : m[1];
}

function numberArg(op: string, name: string): number | null {
  const v = argOf(op, name);
  return v === null || Number.isNaN(Number(v)) ? null : Number(v);
}

/** Elements buffered in a saved buffer (format 2 base64 keys, format 1 blob reference), `null` when not countable. */
function bufferedCount(buffer: JsonValue | undefined): number | null {
  const b = asObject(buffer);
  if (b === null) return null;
  if (typeof b.keys === 'string') return (Buffer.from(b.keys, 'base64').byteLength / 4) | 0;
  const ref = asObject(b.ref);
  if (b.keys === true && ref !== null && typeof ref.n === 'number') return ref.n / 4;
  return null;
}

/** Source elements sitting in a format-2 key buffer (end markers, key 0, not counted); `null` otherwise. */
function bufferedElements(buffer: JsonValue | undefined): number | null {
  const b = asObject(buffer);
  if (b === null || typeof b.keys !== 'string') return null;
  const bytes = Buffer.from(b.keys, 'base64');
  let n = 0;
  for (let k = 0; k + 4 <= bytes.byteLength; k += 4) if (bytes.readUInt32LE(k) !== 0) n++;
  return n;
}

/**
 * Batches a `batch` op has delivered in this epoch, when its upstream is element-wise ops and buffers over an
 * indexed source (elements read from the source minus those still buffered); `null` when it cannot be known.
 */
function batchesDelivered(ops: readonly string[], i: number, state: JsonObject): number | null {
  const batchSize = numberArg(ops[i], 'batchSize');
  if (batchSize === null || batchSize < 1) return null;
  let buffered = 0;
  let o: JsonObject | null = asObject(state.upstream);
  for (let at = i + 1; o !== null && at < ops.length; at++) {
    const name = ops[at].replace(/[([].*$/, '');
    if (name === 'range' || name === 'array' || name === 'tensorSlices') {
      return typeof o.cursor === 'number' ? Math.ceil((o.cursor - buffered) / batchSize) : null;
    }
    if (name === 'shuffle' || name === 'prefetch') {
      const held = bufferedElements(o.buffer);
      if (held === null) return null;
      buffered += held;
    } else if (name !== 'map' && name !== 'mapAsync') {
      return null;
    }
    o = asObject(o.upstream);
  }
  return null;
}

function sourceLength(op: string): number | null {
  if (op.startsWith('range(')) {
    const [start, end, step] = ['start', 'end', 'step'].map((k) => numberArg(op, k));
    if (start === null || end === null || step === null || step === 0) return null;
    return Math.max(0, Math.ceil((end - start) / step));
  }
  if (op.startsWith('array(')) return numberArg(op, 'length');
  if (op.startsWith('tensorSlices(')) {
    const m = /\[(\d+)/.exec(op);
    return m === null ? null : Number(m[1]);
  }
  return null;
}

/** How many ops (the op itself included) the subtree rooted at `ops[i]` spans. */
function subtreeSize(ops: readonly string[], i: number): number {
  const children = childCount(ops[i]);
  let size = 1;
  for (let c = 0; c < children; c++) size += subtreeSize(ops, i + size);
  return size;
}

function childCount(op: string | undefined): number {
  if (op === undefined) return 0;
  if (op === 'concatenate') return 2;
  const zip = /^zip\((?:array of (\d+)|record of (.*))\)$/.exec(op);
  if (zip !== null) return zip[1] !== undefined ? Number(zip[1]) : zip[2].split(', ').length;
  if (/^(range|array|tensorSlices|generator|textLines|csv)[([]/.test(op)) return 0;
  return 1;
}

interface Walk {
  details: string[];
  epoch: string | null;
  batch: string | null;
  shuffle: string | null;
}

/** Describe the state `s` of the op `ops[i]` and its subtree; returns false when the shapes do not match. */
function walk(ops: readonly string[], i: number, s: JsonValue | undefined, out: Walk): boolean {
  const op = ops[i];
  const o = asObject(s);
  if (op === undefined || o === null) return false;
  const name = op.replace(/[([].*$/, '');
  const say = (text: string): void => void out.details.push(`${op}: ${text}`);
  switch (name) {
    case 'repeat': {
      const started = o.started;
      if (typeof started !== 'number') return false;
      const count = argOf(op, 'count');
      const of = count === 'forever' ? '' : ` of ${count}`;
      const inProgress = o.current !== null;
      const text = inProgress ? `epoch ${started}${of} in progress` : started === 0 ? 'no epoch started yet' : `${started} epoch${started === 1 ? '' : 's'} done, the next not started`;
      say(text);
      out.epoch ??= inProgress ? `epoch ${started}${of}` : `${started} epoch${started === 1 ? '' : 's'} done`;
      return o.current === null ? true : walk(ops, i + 1, o.current, out);
    }
    case 'shuffle': {
      const size = numberArg(op, 'bufferSize');
      const held = bufferedCount(o.buffer);
      const text = `shuffle buffer ${held ?? '?'} of ${size ?? '?'}${o.exhausted === true ? ', upstream exhausted' : ''}`;
      say(text);
      out.shuffle ??= text;
      return walk(ops, i + 1, o.upstream, out);
    }
    case 'prefetch': {
      const b = asObject(o.buffer);
      const held = bufferedCount(o.buffer);
      say(b?.replay === true ? 'read-ahead is re-read from the position below on restore' : held !== null ? `${held} elements read ahead` : 'read-ahead elements stored whole');
      return walk(ops, i + 1, o.upstream, out);
    }
    case 'take':
      say(`${o.taken} of ${argOf(op, 'count')} taken`);
      return walk(ops, i + 1, o.upstream, out);
    case 'skip':
      say(`${o.skipped} of ${argOf(op, 'count')} skipped`);
      return walk(ops, i + 1, o.upstream, out);
    case 'shard':
      say(`${o.position} upstream elements read`);
      return walk(ops, i + 1, o.upstream, out);
    case 'concatenate': {
      say(o.onSecond === true ? 'reading the second dataset' : 'reading the first dataset');
      const second = i + 1 + subtreeSize(ops, i + 1);
      return walk(ops, i + 1, o.first, out) && walk(ops, second, o.second, out);
    }
    case 'zip': {
      const members = Array.isArray(o.members) ? o.members : null;
      if (members === null) return false;
      let at = i + 1;
      for (const m of members) {
        if (!walk(ops, at, m, out)) return false;
        at += subtreeSize(ops, at);
      }
      return true;
    }
    case 'range':
    case 'array':
    case 'tensorSlices': {
      const length = sourceLength(op);
      say(`at element ${o.cursor}${length === null ? '' : ` of ${length}`}`);
      return true;
    }
    case 'textLines':
    case 'csv':
      say(`at byte ${o.offset}${argOf(op, 'bytes') === null ? '' : ` of ${argOf(op, 'bytes')}`}`);
      return true;
    case 'generator':
      say(`${o.delivered} elements read${o.ended === true ? ', ended' : ''}`);
      return true;
    case 'batch': {
      const n = batchesDelivered(ops, i, o);
      if (n !== null) {
        say(`${n} batch${n === 1 ? '' : 'es'} delivered in this epoch`);
        out.batch ??= `batch ${n}`;
      }
      return walk(ops, i + 1, o.upstream, out);
    }
    default:
      // Stateless ops (map, filter, batch) hold no position of their own.
      return walk(ops, i + 1, o.upstream, out);
  }
}

/**
 * Summarize `iterator` (a saved position of the pipeline whose ops are `ops`) for people; `null` when the state
 * does not have the shape these ops write.
 */
export function summarizePosition(ops: readonly string[], iterator: JsonValue | null): PositionSummary | null {
  if (iterator === null) return { headline: 'no iterator created yet: training starts at the first element', details: [] };
  const out: Walk = { details: [], epoch: null, batch: null, shuffle: null };
  if (!walk(ops, 0, iterator, out)) return null;
  const headline = [out.epoch, out.batch, out.shuffle].filter((x): x is string => x !== null);
  return { headline: headline.length > 0 ? headline.join(', ') : (out.details[0]?.replace(/^.*?: /, '') ?? 'at the start'), details: out.details };
}
