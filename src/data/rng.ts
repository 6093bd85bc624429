import seedrandom from 'seedrandom';
import { StateFormatError } from './errors';
import type { JsonValue } from './state';

/** Complete internal state of an `alea` generator: restoring it continues the exact same number sequence. */
export interface RngState {
  /** Alea's carry: an integer in [0, 2091639). */
  c: number;
  /** Oldest of alea's three lagged values, a multiple of 2^-32 in [0, 1). */
  s0: number;
  /** Middle lagged value, in [0, 1). */
  s1: number;
  /** Newest lagged value (the last number returned), in [0, 1). */
  s2: number;
}

/**
 * Seedable random number generator with a serializable state: `seedrandom.alea`, the generator tf.data's shuffle
 * uses, so the same seed gives the same numbers as tf.data.
 */
export class SeedableRng {
  private prng: seedrandom.PRNG;

  /** `seed` is passed to `alea` exactly as tf.data passes it (alea stringifies it). */
  constructor(seed: string | number) {
    this.prng = seedrandom.alea(seed as string, { state: true });
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Signed 32-bit integer, as `alea().int32()`. */
  int32(): number {
    return this.prng.int32();
  }

  /** Snapshot of the generator, a plain JSON object. */
  state(): RngState {
    const s = (this.prng as unknown as { state(): RngState }).state();
    return { c: s.c, s0: s.s0, s1: s.s1, s2: s.s2 };
  }

  /** Continue from a snapshot taken with `state()` (validate it first with `parseRngState`). */
  setState(state: RngState): void {
    this.prng = seedrandom.alea('', { state: { ...state } });
  }
}

/**
 * Alea's carry stays in [0, 2091639): it is the integer part of `2091639 * s0 + c * 2^-32` with s0 < 1. Its lagged
 * values are multiples of 2^-32 in [0, 1). A state outside these ranges was not written by alea (a hand edit, a
 * corruption): a negative carry silently gives another element order, a huge one breaks `next()`.
 */
const ALEA_CARRY_LIMIT = 2091639;
const TWO_POW_32 = 4294967296;

/** Validate a JSON value as an `RngState` alea can have produced; throws `StateFormatError` naming `path` otherwise. */
export function parseRngState(value: JsonValue | undefined, path: string): RngState {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StateFormatError(`${path}: expected an RNG state object {c, s0, s1, s2}, got ${JSON.stringify(value)}`);
  }
  const c = value.c;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= ALEA_CARRY_LIMIT) {
    throw new StateFormatError(`${path}.c: expected an integer in [0, ${ALEA_CARRY_LIMIT}) (alea's carry), got ${JSON.stringify(c)}`);
  }
  const lagged: number[] = [];
  for (const k of ['s0', 's1', 's2']) {
    const v = value[k];
    if (typeof v !== 'number' || !(v >= 0 && v < 1) || !Number.isInteger(v * TWO_POW_32)) {
      throw new StateFormatError(`${path}.${k}: expected a number in [0, 1) that is a multiple of 2^-32, got ${JSON.stringify(v)}`);
    }
    lagged.push(v);
  }
  return { c, s0: lagged[0], s1: lagged[1], s2: lagged[2] };
}
