import { CheckpointError, CheckpointNotFoundError, CorruptCheckpointError, PathEscapeError } from '../errors';
import { IndexEntry, checkpointPath, readIndex, stepOfPath, writeIndex } from './checkpoint_index';
import { CheckpointLogger, consoleLogger } from './logger';
import type { CheckpointStorage } from './storage';

/** How a series stores one checkpoint: a directory of files (`model.ckpt-<step>/…`) or one blob (`input.ckpt-<step>`). */
export type SeriesLayout = 'directory' | 'blob';

/** What a {@link CheckpointSeries} needs to know about its checkpoints. */
export interface CheckpointSeriesOptions {
  /** Index file name: `checkpoint`, `checkpoint_input`, `checkpoint_input_<taskType>_<taskId>`. */
  indexName: string;
  /** Checkpoint name prefix: checkpoints are `<prefix>-<step>`. */
  prefix: string;
  layout: SeriesLayout;
  /**
   * Reads the checkpoint at `path` and checks every byte of it; throws `CorruptCheckpointError`,
   * `CheckpointNotFoundError` or `PathEscapeError` when it is unusable.
   */
  verify: (path: string, step: number) => Promise<void>;
  /** Where dropped and orphaned checkpoints are reported. Default `console.warn`. */
  logger?: CheckpointLogger;
}

/** What {@link CheckpointSeries.beginSave} found: the entries the save's index write starts from. */
export interface SavePlan {
  step: number;
  path: string;
  /** Entries of the index (or of the verified scan that replaced an unreadable one), without `step`. */
  entries: IndexEntry[];
}

/** What {@link CheckpointSeries.commitSave} wrote, for {@link CheckpointSeries.applyRetention}. */
export interface CommittedSave {
  /** The new save, the index's latest. */
  fresh: IndexEntry;
  /** The other entries the index lists after it, newest first. */
  listed: IndexEntry[];
  /** Entries newer than the save that the index no longer lists (deleted by retention). */
  unlisted: IndexEntry[];
  /** The step from which entries are kept beyond keepMax (`Infinity`: none), read once, when first needed. */
  protectedFrom: () => Promise<number>;
}

/** Whether an error says a checkpoint is unusable (as opposed to the storage failing). */
export function isUnusableCheckpoint(e: unknown): e is CheckpointError {
  // PathEscapeError (a symlink out of modelDir) makes a checkpoint as unusable as a checksum failure.
  return e instanceof CheckpointError && (e instanceof CorruptCheckpointError || e instanceof CheckpointNotFoundError || e instanceof PathEscapeError);
}

/**
 * Checkpoints verified in full by this process, per storage object: retention counts only checkpoints that
 * verify, and this keeps it from re-reading every kept checkpoint at every save.
 */
const verifiedPaths = new WeakMap<CheckpointStorage, Set<string>>();

function verifiedSet(storage: CheckpointStorage): Set<string> {
  let set = verifiedPaths.get(storage);
  if (set === undefined) {
    set = new Set();
    verifiedPaths.set(storage, set);
  }
  return set;
}

/**
 * One series of checkpoints and its index: the single owner of the rules every reader and writer of the
 * model series (`model.ckpt-<step>/`, index `checkpoint`) and of the input series (`input*.ckpt-<step>`,
 * index `checkpoint_input*`) follows — the index is the truth, an unreadable index is replaced by a scan
 * (every candidate is verified before use), the latest is the index's highest step, and retention counts
 * only checkpoints that verify and never deletes the save just acknowledged.
 */
export class CheckpointSeries {
  readonly indexName: string;
  readonly prefix: string;
  private readonly logger: CheckpointLogger;

  constructor(
    private readonly storage: CheckpointStorage,
    private readonly options: CheckpointSeriesOptions,
  ) {
    this.indexName = options.indexName;
    this.prefix = options.prefix;
    this.logger = options.logger ?? consoleLogger;
  }

  private get indexWhat(): string {
    return `Index ${this.storage.location}/${this.indexName}`;
  }

  /**
   * The index's entries sorted by step, `null` when there is none. Throws `CorruptCheckpointError` for a
   * damaged index or one that is a directory, `PathEscapeError` for an entry leaving the storage.
   */
  async readIndex(): Promise<IndexEntry[] | null> {
    const entries = await readIndex(this.storage, this.indexName, this.prefix);
    if (entries === null && (await this.storage.isDirectory?.(this.indexName))) {
      throw new CorruptCheckpointError(
        `${this.indexWhat} is a directory, not an index file: remove it, or every later save fails.`,
      );
    }
    return entries;
  }

  /** Every `<prefix>-<step>` present in the storage; with `complete`, only directories holding a state.json. */
  async scan(complete = false): Promise<IndexEntry[]> {
    const steps = new Map<number, string>();
    // `list` takes a directory, not a name prefix: list the root and keep this series' names.
    for (const rel of await this.storage.list('')) {
      const [head, file, ...rest] = rel.split('/');
      const step = stepOfPath(head, this.prefix);
      if (step === null) continue;
      const isEntry = this.options.layout === 'blob'
        ? file === undefined
        : file !== undefined && (!complete || (file === 'state.json' && rest.length === 0));
      if (isEntry) steps.set(step, head);
    }
    return [...steps].map(([step, path]) => ({ step, path })).sort((a, b) => a.step - b.step);
  }

  /**
   * The checkpoints a restore tries, newest first: the index's, or — when it is unreadable (a warning
   * says so) or missing — every complete checkpoint present, each verified by the reader before use.
   */
  async candidates(): Promise<IndexEntry[]> {
    let entries: IndexEntry[] | null = null;
    try {
      entries = await this.readIndex();
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      const what = this.options.layout === 'directory' ? 'checkpoint directories' : `${this.prefix}-<step> files`;
      this.logger.warn(`${e.message} Scanning ${this.storage.location} for ${what} instead.`);
    }
    return (entries ?? (await this.scan(true))).slice().reverse();
  }

  /** The index's newest step, `null` without a (readable) index or with an empty one. */
  async latestStep(): Promise<number | null> {
    try {
      const entries = await this.readIndex();
      return entries !== null && entries.length > 0 ? entries[entries.length - 1].step : null;
    } catch (e) {
      if (e instanceof CorruptCheckpointError) return null;
      throw e;
    }
  }

  /**
   * Before the files of a save of `step` are written: reads the index (an unreadable one is rebuilt from the
   * checkpoints that verify), removes orphans — checkpoints present but not indexed, left by a save that
   * failed or was killed before its index write (on a full disk they hold the room the new save needs) —
   * and, for directory checkpoints, unlists `step` if the index names it, so no reader sees its files half
   * replaced. Throws `CheckpointError` when the index is a directory (nothing is written then).
   */
  async beginSave(step: number): Promise<SavePlan> {
    const path = checkpointPath(this.prefix, step);
    let indexed: IndexEntry[] | null;
    try {
      indexed = await this.readIndex();
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      if (await this.storage.isDirectory?.(this.indexName)) {
        throw new CheckpointError(
          `Cannot save step ${step}: ${this.indexWhat} is a directory, not an index file. Remove that directory ` +
            '(restore scans the checkpoints meanwhile) and save again.',
          { cause: e },
        );
      }
      indexed = null;
    }
    const present = await this.scan();
    let entries: IndexEntry[];
    let changed = false;
    if (indexed === null) {
      // No usable index: the checkpoints that verify are the series (restore scans the same way). An incomplete
      // one was left by a save that failed or was killed before there was any index (a first save on a full
      // disk); nothing would ever name it, so it goes now rather than hold the room this save needs.
      entries = [];
      const complete = new Set((await this.scan(true)).map((e) => e.path));
      for (const entry of present) {
        if (entry.step === step) continue;
        if (!complete.has(entry.path)) {
          this.logger.warn(
            `Removing ${this.storage.location}/${entry.path}: there is no index ${this.storage.location}/${this.indexName} ` +
              'and it is incomplete (no state.json: a save that was interrupted or failed), so no restore would use it.',
          );
          await this.remove(entry.path);
        } else if (await this.verifies(entry)) entries.push(entry);
      }
      changed = entries.length > 0;
    } else {
      entries = indexed;
      const named = new Set(indexed.map((e) => e.path));
      for (const orphan of present) {
        if (named.has(orphan.path) || orphan.step === step) continue;
        this.logger.warn(
          `Removing ${this.storage.location}/${orphan.path}: it is not in the index ${this.storage.location}/${this.indexName} ` +
            '(a save that was interrupted or failed before its index write), so no restore would use it.',
        );
        await this.remove(orphan.path);
      }
    }
    const others = entries.filter((e) => e.step !== step);
    if (others.length !== entries.length && this.options.layout === 'directory') changed = true;
    if (changed) await writeIndex(this.storage, this.indexName, others);
    return { step, path, entries: others };
  }

  /**
   * After the files of the save are written: makes it the index's latest, in one index write and without
   * reading any other checkpoint, so the save is durable and can be acknowledged at once. Entries newer than
   * the save are dropped from the index unless at or after `keepFromStep` (a step something else depends on,
   * read only when there are such entries): the run resumed from an earlier step and redoes them, and the
   * newest acknowledged save must be what a restore finds. Every older entry stays listed until
   * {@link applyRetention}, which a crash in between only postpones to the next save.
   */
  async commitSave(plan: SavePlan, keepFromStep?: () => Promise<number | undefined>): Promise<CommittedSave> {
    const fresh: IndexEntry = { step: plan.step, path: plan.path };
    verifiedSet(this.storage).add(plan.path);
    let read: Promise<number> | undefined;
    const protectedFrom = (): Promise<number> => (read ??= Promise.resolve(keepFromStep?.()).then((step) => step ?? Infinity));
    const newer = plan.entries.filter((e) => e.step > plan.step);
    const keptFrom = newer.length > 0 ? await protectedFrom() : Infinity;
    const unlisted = newer.filter((e) => e.step < keptFrom);
    const listed = plan.entries.filter((e) => !unlisted.includes(e)).sort((a, b) => b.step - a.step);
    await writeIndex(this.storage, this.indexName, [fresh, ...listed]);
    return { fresh, listed, unlisted, protectedFrom };
  }

  /**
   * Retention after {@link commitSave}: keeps the new save, which counts as one of `keepMax` (0 keeps all),
   * and the newest others that verify (a corrupt or missing one is deleted instead of taking the place of a
   * good fallback); entries at or after the protected step that verify are kept beyond `keepMax`. Rewrites
   * the index when it drops something, then deletes what it dropped and the entries `commitSave` unlisted.
   */
  async applyRetention(committed: CommittedSave, keepMax: number): Promise<void> {
    const { fresh } = committed;
    const protectedFrom = committed.listed.length > 0 ? await committed.protectedFrom() : Infinity;
    for (const entry of committed.unlisted) {
      const problem = await this.problemOf(entry);
      if (problem !== null) {
        this.logger.warn(
          `Checkpoint ${this.storage.location}/${entry.path} is newer than the save of step ${fresh.step} but unusable ` +
            `(${problem}): dropped from the index.`,
        );
      }
    }
    const kept: IndexEntry[] = [fresh];
    const dropped: IndexEntry[] = [];
    for (const entry of committed.listed) {
      const isProtected = entry.step >= protectedFrom;
      if (keepMax === 0) {
        kept.push(entry);
        continue;
      }
      if (kept.length >= keepMax && !isProtected) {
        dropped.push(entry);
        continue;
      }
      const problem = await this.problemOf(entry);
      if (problem === null) {
        kept.push(entry);
      } else {
        this.logger.warn(
          `Checkpoint ${this.storage.location}/${entry.path} does not verify (${problem}): it no longer counts as one ` +
            `of the ${keepMax} kept; deleted.`,
        );
        dropped.push(entry);
      }
    }
    if (dropped.length > 0) await writeIndex(this.storage, this.indexName, kept);
    for (const old of [...committed.unlisted, ...dropped]) await this.remove(old.path);
  }

  private async remove(path: string): Promise<void> {
    verifiedSet(this.storage).delete(path);
    await this.storage.delete(path);
  }

  private async verifies(entry: IndexEntry): Promise<boolean> {
    return (await this.problemOf(entry)) === null;
  }

  /** Why a checkpoint is unusable, `null` when it verifies (checked once per storage object). */
  private async problemOf(entry: IndexEntry): Promise<string | null> {
    const verified = verifiedSet(this.storage);
    if (verified.has(entry.path)) return null;
    try {
      await this.options.verify(entry.path, entry.step);
    } catch (e) {
      if (!isUnusableCheckpoint(e)) throw e;
      return e.message;
    }
    verified.add(entry.path);
    return null;
  }
}
