import { StateFormatError } from './errors';
import type { JsonValue } from './state';

/** A JSON object as found inside a saved state. */
export type JsonObject = { [key: string]: JsonValue };

/** `value` as a JSON object, else `StateFormatError` naming `path`. */
export function readObject(value: JsonValue | undefined, path: string): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new StateFormatError(`${path}: expected an object, got ${describeJson(value)}`);
  }
  return value;
}

/** `value` as a JSON array, else `StateFormatError`. */
export function readArray(value: JsonValue | undefined, path: string): JsonValue[] {
  if (!Array.isArray(value)) throw new StateFormatError(`${path}: expected an array, got ${describeJson(value)}`);
  return value;
}

/** `value` as an integer >= `min` (cursors, counters), else `StateFormatError`. */
export function readInt(value: JsonValue | undefined, path: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new StateFormatError(`${path}: expected an integer >= ${min}, got ${describeJson(value)}`);
  }
  return value;
}

/** `value` as a boolean, else `StateFormatError`. */
export function readBool(value: JsonValue | undefined, path: string): boolean {
  if (typeof value !== 'boolean') throw new StateFormatError(`${path}: expected a boolean, got ${describeJson(value)}`);
  return value;
}

/** `value` as a string, else `StateFormatError`. */
export function readString(value: JsonValue | undefined, path: string): string {
  if (typeof value !== 'string') throw new StateFormatError(`${path}: expected a string, got ${describeJson(value)}`);
  return value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `value` as the bytes of a base64 string (binary parts of a JSON-safe state), else `StateFormatError`. */
export function readBase64(value: JsonValue | undefined, path: string): Uint8Array {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
    const shown = typeof value === 'string' ? `a string of ${value.length} characters that is not base64` : describeJson(value);
    throw new StateFormatError(`${path}: expected a base64 string, got ${shown}`);
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function describeJson(value: JsonValue | undefined): string {
  return value === undefined ? 'nothing (missing field)' : JSON.stringify(value);
}
