import { parseBoundedJson, isJsonObject } from './safe_json';
import { CorruptCheckpointError } from '../errors';

/** Name of the extra blob that records where in the epoch loop a checkpoint was taken. */
export const FIT_POSITION_SAVEABLE_NAME = 'fit_position';

/** Where a run was when a checkpoint was taken. */
export interface FitPosition {
  /** The epoch (0-based, as tfjs counts) the checkpoint was taken in. */
  epoch: number;
  /** Batches done in that epoch. */
  stepInEpoch: number;
}

/** The position as checkpoint bytes. */
export function encodePosition(position: FitPosition): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(position));
}

/**
 * A position read back from {@link encodePosition} bytes.
 * @throws CorruptCheckpointError naming `source` when it is not `{epoch, stepInEpoch}` non-negative integers.
 */
export function decodePosition(bytes: Uint8Array, source: string): FitPosition {
  const value = parseBoundedJson(bytes, 4096, `${source} ${FIT_POSITION_SAVEABLE_NAME}`);
  const valid =
    isJsonObject(value) &&
    Number.isInteger(value.epoch) &&
    (value.epoch as number) >= 0 &&
    Number.isInteger(value.stepInEpoch) &&
    (value.stepInEpoch as number) >= 0;
  if (!valid) {
    throw new CorruptCheckpointError(
      `Checkpoint ${source}: ${FIT_POSITION_SAVEABLE_NAME} is not {epoch, stepInEpoch} non-negative integers.`,
    );
  }
  return { epoch: value.epoch as number, stepInEpoch: value.stepInEpoch as number };
}
