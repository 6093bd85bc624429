import type { CheckpointInfo } from '../checkpoint/checkpoint_manager';
import { readCheckpointState } from '../checkpoint/model_checkpoint';
import type { CheckpointStorage } from '../checkpoint/storage';
import { CorruptCheckpointError } from '../errors';

/** What `list` learns from a model checkpoint's state.json beyond `CheckpointInfo`, without reading the files. */
export interface RecordedFiles {
  /** Names of the extra blobs riding in the checkpoint (`input_pipeline`, `fit_position`, ...). */
  extras: string[];
  /** The first file whose size differs from the size state.json records (truncated, grown, missing). */
  problem?: string;
}

/**
 * Compare the size of every file of a model checkpoint with the size its state.json records: one `stat` per
 * file, so `list` stays cheap and still catches a truncated weights.bin (the CRC-32s are `verify`'s job).
 */
export async function checkRecordedFiles(storage: CheckpointStorage, info: CheckpointInfo): Promise<RecordedFiles> {
  let state;
  try {
    state = await readCheckpointState(storage, info.path);
  } catch (e) {
    if (!(e instanceof CorruptCheckpointError)) throw e;
    return { extras: [], problem: e.message };
  }
  for (const [name, record] of Object.entries(state.files)) {
    const actual = (await storage.stat(`${info.path}/${name}`))?.size ?? null;
    if (actual !== record.size) {
      const what = actual === null ? 'is missing' : `is ${actual} bytes`;
      return {
        extras: state.extras,
        problem: `${storage.location}/${info.path}/${name} ${what}, state.json records ${record.size} bytes: truncated or damaged (run verify).`,
      };
    }
  }
  return { extras: state.extras };
}
