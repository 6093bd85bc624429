/**
 * Checkpointable, tf.data-compatible input pipelines: `import { data } from 'tfjs-resumable'`.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { localDataFilePath } from '../file_url';
import { CheckpointableDataset } from './dataset';
import { ArrayNode } from './sources/array';
import { GeneratorFn, GeneratorNode, GeneratorOptions } from './sources/generator';
import { RangeNode } from './sources/range';
import { TensorSliceElement, TensorSlicesNode } from './sources/tensor_slices';
import type { InMemorySourceOptions } from './sources/memory_content_hash';
import { LineFile } from './sources/line_file';
import { LineSourceNode, type FileSourceOptions } from './sources/text_lines';

export { CheckpointableDataset, DATASET_STATE_FORMAT_VERSION } from './dataset';
export { CheckpointableIterator } from './iterator';
export type { IteratorState, LegacyIteratorState } from './iterator';
export { PipelineMismatchError, StateFormatError } from './errors';
export { encodeDatasetState, decodeDatasetState } from './state_codec';
export type { DatasetState, JsonValue } from './state';
export type { GeneratorFn, GeneratorOptions } from './sources/generator';
export { SeedableRng } from './rng';
export type { RngState } from './rng';
export { zip } from './zip';
export { csv, CsvDataset } from './sources/csv';
export type { CsvConfig, CsvColumnConfig, CsvRow, CsvValue } from './sources/csv';
export type { TensorSliceElement } from './sources/tensor_slices';
export type { InMemorySourceOptions } from './sources/memory_content_hash';
export type { FileSourceOptions } from './sources/text_lines';
// Building blocks that appear in the signatures of CheckpointableDataset / CheckpointableIterator.
export type { PipelineNode } from './node';
export type { Item } from './iterator';
export type { BlobReader } from './blob';

/** Numbers from `start` (inclusive) to `end` (exclusive) by `step`. */
export function range(start: number, end: number, step = 1): CheckpointableDataset<number> {
  return new CheckpointableDataset(new RangeNode(start, end, step));
}

/**
 * The items of an array, like `tf.data.array`. A hash of the values joins the pipeline fingerprint, so a state
 * saved over other values is refused; `{ verifyContent: false }` when they change between runs on purpose.
 */
export function array<T extends tf.TensorContainer>(items: T[], options?: InMemorySourceOptions): CheckpointableDataset<T> {
  return new CheckpointableDataset(new ArrayNode(items, options));
}

/**
 * Rows of a tensor, or of each tensor of a record (`{xs, ys}`), along the first axis. A hash of the values joins
 * the pipeline fingerprint, so a state saved over other values is refused; `{ verifyContent: false }` when they
 * change between runs on purpose.
 */
export function tensorSlices<S extends tf.Tensor | Record<string, tf.Tensor>>(
  source: S,
  options?: InMemorySourceOptions,
): CheckpointableDataset<TensorSliceElement<S> & tf.TensorContainer> {
  return new CheckpointableDataset(new TensorSlicesNode(source, options) as never);
}

/** Elements of a generator function, like `tf.data.generator`; replayable unless `{replayable: false}`. */
export function generator<T extends tf.TensorContainer>(fn: GeneratorFn<T>, options?: GeneratorOptions): CheckpointableDataset<T> {
  return new CheckpointableDataset(new GeneratorNode(fn, options));
}

/**
 * Lines of a text file, resumable by byte offset, split like tf.data's `TextLineDataset` (`\n`, a trailing `\r`
 * dropped). `source` is a plain path or a `file://` URL (the form tfjs takes in Node). A hash of the file's bytes
 * joins the pipeline fingerprint, so a state saved over an edited file is refused; `{ verifyContent: false }` when
 * the file changes between runs on purpose.
 */
export function textLines(source: string, options: FileSourceOptions = {}): CheckpointableDataset<string> {
  const file = new LineFile(localDataFilePath(source, 'textLines'));
  return new CheckpointableDataset(
    new LineSourceNode<string>(file, 'textLines', 0, (l) => l, () => true, options.verifyContent ?? true),
  );
}
