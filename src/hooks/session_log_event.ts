/**
 * The bytes of a TensorFlow `Event` protobuf carrying `session_log { status: START }` at a step: the record
 * TensorBoard reads as "a session (re)started here; every point at this step or later written before it is
 * orphaned" (its event accumulator purges them). tfjs-node's summary writer has no call for it, and the
 * message is three fields, so it is encoded by hand rather than with a protobuf library.
 *
 * `Event` (tensorflow/core/util/event.proto): `double wall_time = 1; int64 step = 2; SessionLog session_log = 7;`
 * `SessionLog`: `SessionStatus status = 1;` with `START = 1`.
 */
export function sessionStartEvent(step: number, wallTimeSecs: number): Uint8Array {
  const wallTime = new Uint8Array(8);
  new DataView(wallTime.buffer).setFloat64(0, wallTimeSecs, true);
  const sessionLog = [0x08, 0x01]; // field 1 (status), varint START
  return Uint8Array.from([
    0x09, ...wallTime, // field 1 (wall_time), 64-bit
    0x10, ...varint(step), // field 2 (step), varint
    0x3a, sessionLog.length, ...sessionLog, // field 7 (session_log), length-delimited
  ]);
}

/** Protobuf base-128 varint of a non-negative safe integer (steps stay far below 2^53). */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}
