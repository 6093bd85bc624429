/**
 * Reads TensorBoard event files back the way TensorBoard does, written independently of the code under
 * test: TFRecord framing (`uint64 length, uint32 masked CRC32C of the length, data, uint32 masked CRC32C
 * of the data`, every CRC checked) and the few `Event` protobuf fields the tests look at.
 */
import * as fs from 'fs';
import * as path from 'path';

/** One decoded `Event`. */
export type EventRecord =
  | { kind: 'file_version'; step: number; version: string }
  | { kind: 'session_start'; step: number }
  | { kind: 'scalar'; step: number; tag: string; value: number }
  | { kind: 'other'; step: number };

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC32C_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
function maskedCrc(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** The records of one TFRecord file; throws on a bad CRC or a truncated record. */
export function readTfRecords(file: string): Uint8Array[] {
  const buf = fs.readFileSync(file);
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) throw new Error(`${file}: truncated record header at byte ${at}`);
    const header = buf.subarray(at, at + 8);
    if (buf.readUInt32LE(at + 8) !== maskedCrc(header)) throw new Error(`${file}: bad length CRC at byte ${at}`);
    const length = Number(buf.readBigUInt64LE(at));
    const data = buf.subarray(at + 12, at + 12 + length);
    if (data.length !== length || at + 16 + length > buf.length) throw new Error(`${file}: truncated record at byte ${at}`);
    if (buf.readUInt32LE(at + 12 + length) !== maskedCrc(data)) throw new Error(`${file}: bad data CRC at byte ${at}`);
    records.push(new Uint8Array(data));
    at += 16 + length;
  }
  return records;
}

/** Protobuf fields of one message: field number → raw values (varints as numbers, others as bytes). */
function fields(bytes: Uint8Array): Map<number, (number | Uint8Array)[]> {
  const out = new Map<number, (number | Uint8Array)[]>();
  let at = 0;
  const readVarint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[at++];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
  };
  while (at < bytes.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value: number | Uint8Array;
    if (wire === 0) value = readVarint();
    else if (wire === 1) {
      value = bytes.subarray(at, at + 8);
      at += 8;
    } else if (wire === 2) {
      const length = readVarint();
      value = bytes.subarray(at, at + length);
      at += length;
    } else if (wire === 5) {
      value = bytes.subarray(at, at + 4);
      at += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

function float32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
}

/** Decodes an `Event`: step (2), file_version (3), summary (5: value (1): tag (1), simple_value (2)), session_log (7). */
export function decodeEvent(bytes: Uint8Array): EventRecord[] {
  const event = fields(bytes);
  const step = (event.get(2)?.[0] as number | undefined) ?? 0;
  const version = event.get(3)?.[0];
  if (version instanceof Uint8Array) return [{ kind: 'file_version', step, version: Buffer.from(version).toString('utf8') }];
  const sessionLog = event.get(7)?.[0];
  if (sessionLog instanceof Uint8Array) {
    const status = fields(sessionLog).get(1)?.[0];
    return status === 1 ? [{ kind: 'session_start', step }] : [{ kind: 'other', step }];
  }
  const summary = event.get(5)?.[0];
  if (summary instanceof Uint8Array) {
    return (fields(summary).get(1) ?? []).map((v) => {
      const value = fields(v as Uint8Array);
      const tag = Buffer.from(value.get(1)?.[0] as Uint8Array).toString('utf8');
      const simple = value.get(2)?.[0];
      if (!(simple instanceof Uint8Array)) throw new Error(`summary value ${tag} has no simple_value`);
      return { kind: 'scalar', step, tag, value: float32(simple) };
    });
  }
  return [{ kind: 'other', step }];
}

/** Every event of every event file in `dir`, files in name order (TensorBoard's order). */
export function readEventDir(dir: string): { file: string; events: EventRecord[] }[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith('events.out.tfevents.'))
    .sort()
    .map((name) => ({ file: name, events: readTfRecords(path.join(dir, name)).flatMap(decodeEvent) }));
}

/**
 * The scalar curve TensorBoard shows for `tag`: points in file order, where a `SessionLog.START` at step s
 * drops every earlier point at a step ≥ s (TensorBoard's event accumulator, `purge_orphaned_data`).
 */
export function visibleCurve(dir: string, tag: string): [step: number, value: number][] {
  let points: [number, number][] = [];
  for (const { events } of readEventDir(dir)) {
    for (const e of events) {
      if (e.kind === 'session_start') points = points.filter(([step]) => step < e.step);
      if (e.kind === 'scalar' && e.tag === tag) points.push([e.step, e.value]);
    }
  }
  return points;
}
