import { checkLockWaitMs, DEFAULT_LOCK_WAIT_MS } from '../checkpoint/lock_wait';
import { parseModelDir } from '../checkpoint/open_storage';
import { InvalidArgumentError } from '../errors';

/** Options of a {@link RunConfig}; every field optional, TF's defaults otherwise. */
export interface RunConfigOptions {
  /**
   * Where checkpoints go (a path, `file://` or `s3://bucket/prefix` URL); an `Estimator`'s own `modelDir` wins
   * when both are set. Default: `TF_CONFIG`'s `model_dir`, as in TF.
   */
  modelDir?: string;
  /** Save every N global steps. Exclusive with `saveCheckpointsSecs`. */
  saveCheckpointsSteps?: number;
  /** Save every N seconds. Exclusive with `saveCheckpointsSteps`. TF's default is 600 when neither is set. */
  saveCheckpointsSecs?: number;
  /** How many model checkpoints to keep (oldest deleted first). Default 5, as TF. */
  keepCheckpointMax?: number;
  /** Number of workers reading input (chief + workers). Default 1, or from `TF_CONFIG`. */
  numWorkerReplicas?: number;
  /** This process's task type (`'chief'`, `'worker'`, ...). Default `'worker'`, or from `TF_CONFIG`. */
  taskType?: string;
  /** This process's index among its task type. Default 0, or from `TF_CONFIG`. */
  taskId?: number;
  /** Whether this process writes model checkpoints. Default: derived as TF does. */
  isChief?: boolean;
  /**
   * Write model checkpoints in the background (default `true`: training never waits for the disk, and a
   * save due while one is written may be skipped for a newer one). `false`: every save is written before
   * training goes on, as in TF.
   */
  backgroundCheckpointWrites?: boolean;
  /** Log every N steps (LoggingTensorHook / StepCounterHook in `Estimator.train`). Default 100. */
  logStepCount?: number;
  /**
   * How long `Estimator.train` (on the chief) waits, in ms, for another live job to release the modelDir's
   * writer lock before it restores, printing a progress line; then `CheckpointLockHeldError`. Default 0:
   * fail at once.
   */
  lockWaitMs?: number;
}

/** The part of TF's `TF_CONFIG` environment variable that RunConfig reads. */
interface TfConfig {
  cluster?: Record<string, unknown>;
  model_dir?: unknown;
  task?: { type?: unknown; index?: unknown };
}

/**
 * How an `Estimator` runs: checkpoint cadence and retention, and where this process stands in a
 * multi-worker job. Mirrors TF's `tf.estimator.RunConfig`; the cluster part is read from the `TF_CONFIG`
 * environment variable (`{"cluster": {"chief": [...], "worker": [...]}, "task": {"type": "worker",
 * "index": 1}}`) unless given explicitly.
 */
export class RunConfig {
  /** Checkpoint directory, or `undefined` when the `Estimator` supplies its own. */
  readonly modelDir: string | undefined;
  /** Save a checkpoint every N global steps; `undefined` when saving by time. */
  readonly saveCheckpointsSteps: number | undefined;
  /** Save a checkpoint every N seconds; 600 when no cadence was given, `undefined` when saving by steps. */
  readonly saveCheckpointsSecs: number | undefined;
  /** How many model checkpoints are kept (oldest deleted first); default 5. */
  readonly keepCheckpointMax: number;
  /** Number of workers reading input (chief + workers); default 1, or counted from `TF_CONFIG`'s cluster. */
  readonly numWorkerReplicas: number;
  /** This process's task type: `'chief'`, `'worker'`, `'evaluator'` or `'ps'`; default `'worker'`. */
  readonly taskType: string;
  /** This process's index among its task type (0-based); default 0, or `TF_CONFIG`'s `task.index`. */
  readonly taskId: number;
  /**
   * Whether this process writes model checkpoints. Unless given: the `'chief'` task, or worker 0 when the
   * cluster has no chief (TF's rule).
   */
  readonly isChief: boolean;
  /** Log every N steps (LoggingTensorHook / StepCounterHook in `Estimator.train`); default 100. */
  readonly logStepCount: number;
  /**
   * Whether model checkpoints are written in the background (default `true`); `false` makes training wait
   * for every save. See {@link RunConfigOptions.backgroundCheckpointWrites}.
   */
  readonly backgroundCheckpointWrites: boolean;
  /** How long the chief waits for the modelDir's writer lock (ms); 0 (the default) fails at once. */
  readonly lockWaitMs: number;

  /**
   * @param options the settings; unset fields take TF's defaults or the values in `TF_CONFIG`.
   * @param env where `TF_CONFIG` is read from; default `process.env`.
   * @throws InvalidArgumentError when both cadences are set, a count is not a positive integer, `taskType`
   *   is unknown, or `TF_CONFIG` is malformed.
   */
  constructor(options: RunConfigOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    const { saveCheckpointsSteps, saveCheckpointsSecs } = options;
    if (saveCheckpointsSteps !== undefined && saveCheckpointsSecs !== undefined) {
      throw new InvalidArgumentError(
        `RunConfig: saveCheckpointsSteps (${saveCheckpointsSteps}) and saveCheckpointsSecs ` +
          `(${saveCheckpointsSecs}) cannot both be set; choose one cadence.`,
      );
    }
    if (saveCheckpointsSteps !== undefined) requirePositiveInteger('saveCheckpointsSteps', saveCheckpointsSteps);
    if (saveCheckpointsSecs !== undefined) requirePositive('saveCheckpointsSecs', saveCheckpointsSecs);
    this.saveCheckpointsSteps = saveCheckpointsSteps;
    this.saveCheckpointsSecs =
      saveCheckpointsSteps === undefined ? (saveCheckpointsSecs ?? 600) : undefined;
    const fromEnv = parseTfConfig(env.TF_CONFIG);
    // TF's rule: the option wins, else TF_CONFIG's model_dir. Checked now, so a bad scheme fails before training.
    this.modelDir = options.modelDir ?? fromEnv.modelDir;
    if (this.modelDir !== undefined) parseModelDir(this.modelDir);
    this.keepCheckpointMax = options.keepCheckpointMax ?? 5;
    requirePositiveInteger('keepCheckpointMax', this.keepCheckpointMax);
    this.backgroundCheckpointWrites = options.backgroundCheckpointWrites ?? true;
    this.logStepCount = options.logStepCount ?? 100;
    checkLockWaitMs(options.lockWaitMs, 'RunConfig: lockWaitMs');
    this.lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
    requirePositiveInteger('logStepCount', this.logStepCount);

    this.taskType = options.taskType ?? fromEnv.taskType ?? 'worker';
    this.taskId = options.taskId ?? fromEnv.taskId ?? 0;
    requireNonNegativeInteger('taskId', this.taskId);
    this.numWorkerReplicas = options.numWorkerReplicas ?? fromEnv.numWorkerReplicas ?? 1;
    requirePositiveInteger('numWorkerReplicas', this.numWorkerReplicas);
    if (this.taskType !== 'chief' && this.taskType !== 'worker' && this.taskType !== 'evaluator' && this.taskType !== 'ps') {
      throw new InvalidArgumentError(
        `RunConfig: taskType ${JSON.stringify(this.taskType)} is not one of chief, worker, evaluator, ps.`,
      );
    }
    // TF: the chief is the "chief" task when the cluster has one, else worker 0.
    this.isChief =
      options.isChief ??
      (this.taskType === 'chief' || (this.taskType === 'worker' && this.taskId === 0 && !fromEnv.hasChief));
  }

  /** A copy with some options replaced (TF's `RunConfig.replace`). */
  replace(changes: RunConfigOptions): RunConfig {
    const current: RunConfigOptions = {
      modelDir: this.modelDir,
      keepCheckpointMax: this.keepCheckpointMax,
      numWorkerReplicas: this.numWorkerReplicas,
      taskType: this.taskType,
      taskId: this.taskId,
      isChief: this.isChief,
      logStepCount: this.logStepCount,
      backgroundCheckpointWrites: this.backgroundCheckpointWrites,
      lockWaitMs: this.lockWaitMs,
    };
    const cadenceChanged = 'saveCheckpointsSteps' in changes || 'saveCheckpointsSecs' in changes;
    if (!cadenceChanged) {
      current.saveCheckpointsSteps = this.saveCheckpointsSteps;
      current.saveCheckpointsSecs = this.saveCheckpointsSteps === undefined ? this.saveCheckpointsSecs : undefined;
    }
    return new RunConfig({ ...current, ...changes }, {});
  }
}

/** Reads TF_CONFIG; an unset variable gives nothing, a malformed one a clear error. */
function parseTfConfig(raw: string | undefined): {
  modelDir?: string;
  taskType?: string;
  taskId?: number;
  numWorkerReplicas?: number;
  hasChief: boolean;
} {
  if (raw === undefined || raw.trim() === '') return { hasChief: false };
  let parsed: TfConfig;
  try {
    parsed = JSON.parse(raw) as TfConfig;
  } catch (error) {
    throw new InvalidArgumentError(
      `TF_CONFIG is not valid JSON (${(error as Error).message}); expected ` +
        '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}.',
    );
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw new InvalidArgumentError('TF_CONFIG must be a JSON object with "cluster" and "task".');
  }
  if (parsed.model_dir !== undefined && typeof parsed.model_dir !== 'string') {
    throw new InvalidArgumentError('TF_CONFIG model_dir must be a string (a path or an s3://bucket/prefix URL).');
  }
  const cluster = parsed.cluster ?? {};
  const countOf = (job: string): number => {
    const members = cluster[job];
    if (members === undefined) return 0;
    if (!Array.isArray(members)) {
      throw new InvalidArgumentError(`TF_CONFIG cluster.${job} must be a list of addresses.`);
    }
    return members.length;
  };
  const chiefs = countOf('chief');
  const workers = countOf('worker');
  const task = parsed.task ?? {};
  if (task.type !== undefined && typeof task.type !== 'string') {
    throw new InvalidArgumentError('TF_CONFIG task.type must be a string such as "worker".');
  }
  if (task.index !== undefined && (typeof task.index !== 'number' || !Number.isInteger(task.index) || task.index < 0)) {
    throw new InvalidArgumentError('TF_CONFIG task.index must be a non-negative integer.');
  }
  const taskType = task.type as string | undefined;
  const taskId = task.index as number | undefined;
  if (taskType !== undefined && taskId !== undefined && taskId >= countOf(taskType) && countOf(taskType) > 0) {
    throw new InvalidArgumentError(
      `TF_CONFIG task ${taskType}:${taskId} is not in cluster.${taskType} (${countOf(taskType)} members).`,
    );
  }
  return {
    modelDir: parsed.model_dir as string | undefined,
    taskType,
    taskId,
    numWorkerReplicas: chiefs + workers > 0 ? chiefs + workers : undefined,
    hasChief: chiefs > 0,
  };
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`RunConfig: ${name} must be a positive integer, got ${value}.`);
  }
}

function requireNonNegativeInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(`RunConfig: ${name} must be a non-negative integer, got ${value}.`);
  }
}

function requirePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`RunConfig: ${name} must be a positive number, got ${value}.`);
  }
}
