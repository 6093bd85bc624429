import { CheckpointInfo, listCheckpoints, modelSeries, verifyCheckpoints } from '../checkpoint/checkpoint_manager';
import { MODEL_CHECKPOINT_PREFIX, MODEL_INDEX_NAME } from '../checkpoint/model_checkpoint';
import type { CheckpointStorage } from '../checkpoint/storage';
import { CheckpointError, CheckpointNotFoundError } from '../errors';
import { InputSeriesInfo, describeInputSeries, discoverInputSeries } from './input_checkpoints';

/** Everything `list` and `verify` know about a modelDir. */
export interface ModelDirReport {
  /** Absolute directory or `s3://` URL. */
  location: string;
  /** State of the model checkpoint index file `checkpoint`. */
  modelIndex: { status: 'ok' | 'missing' | 'corrupt'; reason?: string };
  /** Model checkpoints, oldest first (see `CheckpointInfo`). */
  modelCheckpoints: CheckpointInfo[];
  /** Input checkpoint series, by index name. */
  inputSeries: InputSeriesInfo[];
}

/**
 * Reads a modelDir's model and input checkpoints. `deep` verifies every byte of every file (verify);
 * otherwise only state.json files and the small input blobs are checked (list). Throws
 * `CheckpointNotFoundError` when the directory does not exist or holds no checkpoint at all, which almost
 * always means a wrong path.
 */
export async function readModelDirReport(storage: CheckpointStorage, deep: boolean): Promise<ModelDirReport> {
  const modelCheckpoints = deep ? await verifyCheckpoints(storage) : await listCheckpoints(storage);
  let modelIndex: ModelDirReport['modelIndex'] = { status: 'ok' };
  try {
    if ((await modelSeries(storage).readIndex()) === null) modelIndex = { status: 'missing' };
  } catch (e) {
    if (!(e instanceof CheckpointError) || e instanceof CheckpointNotFoundError) throw e;
    modelIndex = { status: 'corrupt', reason: e.message };
  }
  const inputSeries: InputSeriesInfo[] = [];
  for (const series of await discoverInputSeries(storage)) inputSeries.push(await describeInputSeries(storage, series, deep));
  if (modelCheckpoints.length === 0 && modelIndex.status === 'missing' && inputSeries.length === 0) {
    throw new CheckpointNotFoundError(
      `${storage.location} holds no checkpoints (no "${MODEL_INDEX_NAME}" index, no ${MODEL_CHECKPOINT_PREFIX}-<step> ` +
        'directories, no input.ckpt-<step> files): expected the modelDir of a tfjs-resumable training run.',
    );
  }
  return { location: storage.location, modelIndex, modelCheckpoints, inputSeries };
}
