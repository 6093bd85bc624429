import { CheckpointNotFoundError, CorruptCheckpointError, InvalidArgumentError } from '../errors';
import { frameBlob, unframeBlob } from './checksum';
import { checkKeepMax, checkPrefix, checkStep, checkpointPath } from './checkpoint_index';
import { CheckpointSeries, isUnusableCheckpoint } from './checkpoint_series';
import { CheckpointLogger, consoleLogger } from './logger';
import type { CheckpointStorage } from './storage';

/** Options of {@link BlobCheckpointStore}. */
export interface BlobCheckpointStoreOptions {
  /** Index file name, e.g. `checkpoint_input`. */
  indexName: string;
  /** Blob name prefix, e.g. `input.ckpt` or `input_worker_1.ckpt`: blobs are `<prefix>-<step>`. */
  prefix: string;
  /** Newest blobs kept (0 keeps all). Default 5. */
  keepMax?: number;
  /** Where fallbacks are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
  /** Largest blob read. Default 2 GiB. */
  maxBlobBytes?: number;
}

/** A blob read back with the step it was saved at. */
export interface StepBlob {
  /** Global step the blob was saved at (from its name `<prefix>-<step>`). */
  step: number;
  /** The blob's payload, with its frame (magic, version, length, CRC-32) checked and removed. */
  bytes: Uint8Array;
}

/**
 * A series of single-blob checkpoints (`<prefix>-<step>`, each framed with magic, version, length and
 * CRC-32) with their own index file: the storage under input-pipeline checkpoints. Writes follow the
 * model checkpoint rule: blob first, index last (atomically), then retention. The caller holds the
 * modelDir lock.
 */
export class BlobCheckpointStore {
  private readonly indexName: string;
  private readonly prefix: string;
  private readonly keepMax: number;
  private readonly logger: CheckpointLogger;
  private readonly maxBlobBytes: number;
  private readonly series: CheckpointSeries;

  /**
   * @param storage where the blobs and their index live; the caller holds its writer lock while saving.
   * @throws InvalidArgumentError when `indexName` or `prefix` is not one plain file name, or `keepMax` is
   *   not a non-negative integer.
   */
  constructor(
    private readonly storage: CheckpointStorage,
    options: BlobCheckpointStoreOptions,
  ) {
    this.indexName = checkPrefix(options.indexName);
    this.prefix = checkPrefix(options.prefix);
    this.keepMax = checkKeepMax(options.keepMax ?? 5, 'keepMax');
    this.logger = options.logger ?? consoleLogger;
    this.maxBlobBytes = options.maxBlobBytes ?? 2 * 1024 ** 3;
    this.series = new CheckpointSeries(storage, {
      indexName: this.indexName,
      prefix: this.prefix,
      layout: 'blob',
      verify: async (_path, step) => void (await this.read(step)),
      logger: this.logger,
    });
  }

  /**
   * Saves `bytes` as the checkpoint of `step` and makes it the latest; returns its storage path.
   * Retention keeps the newest `keepMax`, and also every checkpoint at or after `keepFromStep` when given
   * (a step something else still depends on, e.g. the newest model checkpoint).
   */
  async save(step: number, bytes: Uint8Array, keepFromStep?: number): Promise<string> {
    const written = await this.commit(step, bytes, async () => keepFromStep);
    await written.applyRetention();
    return written.path;
  }

  /**
   * {@link save} up to making the blob latest, with retention left to the caller (the checkpoint writer
   * acknowledges the save first). `keepFromStep` is read only when retention needs it.
   */
  async commit(
    step: number,
    bytes: Uint8Array,
    keepFromStep?: () => Promise<number | undefined>,
  ): Promise<{ path: string; applyRetention: () => Promise<void> }> {
    checkStep(step, `${this.prefix} save`, InvalidArgumentError);
    const plan = await this.series.beginSave(step);
    // The blob itself is replaced atomically, so re-saving a listed step needs no unlisting first.
    await this.storage.writeAtomic(plan.path, frameBlob(bytes));
    const committed = await this.series.commitSave(plan, keepFromStep);
    return { path: plan.path, applyRetention: () => this.series.applyRetention(committed, this.keepMax) };
  }

  /** Steps named by the index, ascending (`[]` when there is no index). Throws on a corrupt index. */
  async steps(): Promise<number[]> {
    return ((await this.series.readIndex()) ?? []).map((e) => e.step);
  }

  /** The index's latest step, or `null`. */
  async latest(): Promise<number | null> {
    const steps = await this.steps();
    return steps.length > 0 ? steps[steps.length - 1] : null;
  }

  /** The verified blob of `step`. `CheckpointNotFoundError` if absent, `CorruptCheckpointError` if damaged. */
  async read(step: number): Promise<Uint8Array> {
    checkStep(step, `${this.prefix} read`, InvalidArgumentError);
    const blobPath = checkpointPath(this.prefix, step);
    const what = `${this.storage.location}/${blobPath}`;
    const st = await this.storage.stat(blobPath);
    if (st === null) throw new CheckpointNotFoundError(`${what} does not exist.`);
    if (st.size > this.maxBlobBytes) {
      throw new CorruptCheckpointError(`${what} is ${st.size} bytes, more than the ${this.maxBlobBytes} allowed: refusing to read it.`);
    }
    return unframeBlob(await this.storage.read(blobPath), what);
  }

  /**
   * The newest usable blob, preferring `preferredStep` when given and usable (an input checkpoint
   * matching the restored model checkpoint). Damaged blobs are reported and skipped; `null` when none.
   */
  async readLatestValid(preferredStep?: number): Promise<StepBlob | null> {
    const entries = await this.series.candidates();
    if (preferredStep !== undefined) {
      const i = entries.findIndex((e) => e.step === preferredStep);
      if (i > 0) entries.unshift(...entries.splice(i, 1));
    }
    for (const entry of entries) {
      try {
        return { step: entry.step, bytes: await this.read(entry.step) };
      } catch (e) {
        if (!isUnusableCheckpoint(e)) throw e;
        this.logger.warn(`Checkpoint ${this.storage.location}/${entry.path} is unusable: ${e.message} Falling back to the previous checkpoint.`);
      }
    }
    return null;
  }
}
