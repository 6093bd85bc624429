import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { parseModelDir } from '../checkpoint/open_storage';
import type { JsonValue } from '../data/state';
import { InvalidArgumentError } from '../errors';
import type { StatefulCallback } from './callback_state';
import { TfjsNodeRequiredError } from './errors';
import { sessionStartEvent } from './session_log_event';
import { SessionRunArgs, type SessionRunContext, SessionRunHook, type SessionRunValues } from './session_run_hook';
import { requirePositiveInteger, requirePositiveSeconds, SecondOrStepTimer } from './timer';
import type { TrainingSession } from './training_session';

/** Options of {@link SummarySaverHook}: exactly one of `saveSteps` / `saveSecs`. */
export interface SummarySaverHookOptions {
  /** Local directory the event files go to (TensorBoard's `--logdir`); created if missing. */
  outputDir: string;
  /** Write every this many global steps (positive integer). */
  saveSteps?: number;
  /** Write every this many seconds (positive). */
  saveSecs?: number;
  /**
   * Batch logs written as scalars, tagged by their names. Default: every log the compiled model reports
   * (`model.metricsNames`: `loss` and the metrics).
   */
  tags?: string[];
  /** Clock in milliseconds, for tests; default `performance.now()`. Only decides when to write and steps/s. */
  now?: () => number;
}

/** The tag of the training speed, as TF's `StepCounterHook` writes it. */
export const STEPS_PER_SEC_TAG = 'global_step/sec';

/** The part of tfjs-node's `SummaryFileWriter` used here (tfjs-node is optional, so its types are not imported). */
interface NodeSummaryWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}

/** What `require('@tensorflow/tfjs-node')` gives that this hook uses. */
interface TfjsNodeModule {
  node: { summaryFileWriter(logdir: string, maxQueue?: number, flushMillis?: number): NodeSummaryWriter };
}

/**
 * The writer's internals that run one more TensorFlow op on it: tfjs-node 4.x keeps the writer's resource
 * handle and its backend (whose `executeMultipleOutputs` runs any TF op) as fields.
 */
interface WriterInternals {
  resourceHandle?: tf.Tensor;
  backend?: { executeMultipleOutputs(op: string, attrs: unknown[], inputs: tf.Tensor[], outputs: number): tf.Tensor[] };
}

/** Log directories this process opened a writer on (tfjs-node keeps one writer per directory for the process). */
const openedDirs = new Set<string>();

/** Event files are named `events.out.tfevents.<seconds>.<host>.<pid>...`; TensorBoard reads them in name order. */
const EVENT_FILE = /^events\.out\.tfevents\.(\d{10})\./;

/**
 * Writes loss, metrics and training speed (`global_step/sec`) as TensorBoard scalar summaries at the
 * **global step**, every N steps or seconds on a {@link SecondOrStepTimer} (TF's `SummarySaverHook`), through
 * `@tensorflow/tfjs-node`'s summary writer (`tf.node.summaryFileWriter`), which must be installed and its
 * `tensorflow` backend active.
 *
 * Made for runs that resume. The steps are the run's global step, so a resumed run's curve continues where
 * the restored checkpoint left it instead of restarting at 0 (as `tf.node.tensorBoard` does), and the hook's
 * timer is checkpointed with the run (it is a {@link StatefulCallback}), so points land on the same steps as
 * in an uninterrupted run. Points a killed run wrote after its last checkpoint describe training that was
 * thrown away: at every start the hook writes TF's `SessionLog.START` event, which makes TensorBoard drop
 * every earlier point at or after its step. That step is the first one this run writes (restored step + 1,
 * because a point's step counts the batch it reports), so the restored checkpoint's own point stays.
 * Each point is flushed when written, so a kill loses none that training had passed.
 */
export class SummarySaverHook extends SessionRunHook implements StatefulCallback {
  private readonly outputDir: string;
  private readonly timer: SecondOrStepTimer;
  private readonly tags: string[] | undefined;
  private readonly now: () => number;
  private readonly tfjsNode: TfjsNodeModule;
  private writer: NodeSummaryWriter | undefined;
  private shouldWrite = false;
  private rateFrom: { step: number; timeMs: number } | null = null;

  /**
   * @throws TfjsNodeRequiredError when `@tensorflow/tfjs-node` does not load.
   * @throws InvalidArgumentError when `outputDir` is not a local directory, or not exactly one of
   *   `saveSteps` / `saveSecs` is given, or it is not positive.
   */
  constructor(options: SummarySaverHookOptions) {
    super();
    const { saveSteps, saveSecs } = options;
    if ((saveSteps === undefined) === (saveSecs === undefined)) {
      throw new InvalidArgumentError(
        `SummarySaverHook needs exactly one of saveSteps and saveSecs (got ${saveSteps === undefined ? 'neither' : 'both'}).`,
      );
    }
    if (saveSteps !== undefined) requirePositiveInteger('saveSteps', saveSteps, 'SummarySaverHook');
    if (saveSecs !== undefined) requirePositiveSeconds('saveSecs', saveSecs, 'SummarySaverHook');
    const location = parseModelDir(options.outputDir);
    if (location.kind !== 'local') {
      throw new InvalidArgumentError(
        `SummarySaverHook: outputDir ${options.outputDir} is not a local directory; TensorFlow's event file ` +
          'writer writes local files only. Give a path (and copy the event files to the bucket if needed).',
      );
    }
    this.outputDir = location.path;
    this.tfjsNode = loadTfjsNode();
    this.now = options.now ?? (() => performance.now());
    this.timer = new SecondOrStepTimer(
      saveSteps !== undefined ? { everySteps: saveSteps, now: this.now } : { everySecs: saveSecs as number, now: this.now },
    );
    this.tags = options.tags === undefined ? undefined : [...options.tags];
  }

  override begin(): void {
    this.timer.reset();
  }

  /** The write timer's state, so a resumed run writes at the same steps as an uninterrupted one. */
  saveState(): JsonValue {
    return this.timer.saveState();
  }

  /**
   * Continue from {@link saveState} (applied after `begin`).
   * @throws CallbackStateError when `state` is not such a value.
   */
  restoreState(state: JsonValue): void {
    this.timer.restoreState(state);
  }

  override async afterCreateSession(session: TrainingSession): Promise<void> {
    if (tf.getBackend() !== 'tensorflow') {
      throw new TfjsNodeRequiredError(
        `SummarySaverHook writes through tfjs-node's summary writer, which needs the 'tensorflow' backend, but the ` +
          `active backend is '${tf.getBackend()}'. Train on it: await tf.setBackend('tensorflow') (or useFastestBackend()).`,
      );
    }
    if (!openedDirs.has(this.outputDir)) {
      await waitForNewFileName(this.outputDir);
      openedDirs.add(this.outputDir);
    }
    const writer = this.tfjsNode.node.summaryFileWriter(this.outputDir);
    this.writer = writer;
    writeSessionStart(writer, session.globalStep + 1);
    writer.flush();
    this.rateFrom = { step: session.globalStep, timeMs: this.now() };
  }

  override beforeRun(ctx: SessionRunContext): SessionRunArgs | void {
    this.shouldWrite = this.timer.shouldTriggerForStep(ctx.session.globalStep + 1);
    if (this.shouldWrite) return new SessionRunArgs(this.tags ?? ctx.session.model.metricsNames);
  }

  override afterRun(ctx: SessionRunContext, values: SessionRunValues): void {
    if (!this.shouldWrite || this.writer === undefined) return;
    const step = ctx.session.globalStep;
    this.timer.updateLastTriggeredStep(step);
    for (const tag of Object.keys(values.results)) this.writer.scalar(tag, values.results[tag], step);
    const nowMs = this.now();
    // Measured within this process only: the interval before a resume includes the restart.
    if (this.rateFrom !== null && nowMs > this.rateFrom.timeMs && step > this.rateFrom.step) {
      this.writer.scalar(STEPS_PER_SEC_TAG, (step - this.rateFrom.step) / ((nowMs - this.rateFrom.timeMs) / 1000), step);
    }
    this.rateFrom = { step, timeMs: nowMs };
    this.writer.flush();
  }

  override end(): void {
    this.writer?.flush();
  }
}

function loadTfjsNode(): TfjsNodeModule {
  try {
    return require('@tensorflow/tfjs-node') as TfjsNodeModule;
  } catch (error) {
    const reason = (error as { message?: unknown } | null)?.message;
    throw new TfjsNodeRequiredError(
      `SummarySaverHook writes TensorBoard event files through @tensorflow/tfjs-node, which does not load here ` +
        `(${typeof reason === 'string' ? reason.split('\n')[0] : String(error)}). Install it: ` +
        'npm install @tensorflow/tfjs-node (the README\'s "Backends" section says how where its download host is unreachable).',
    );
  }
}

/** Appends `SessionLog.START` at `step` to the writer's own file, so it is ordered with the scalars around it. */
function writeSessionStart(writer: NodeSummaryWriter, step: number): void {
  const internals = writer as unknown as WriterInternals;
  if (internals.resourceHandle === undefined || internals.backend === undefined) {
    throw new TfjsNodeRequiredError(
      'SummarySaverHook: this @tensorflow/tfjs-node has a summary writer without the resource handle tfjs-node 4.x ' +
        'keeps; use @tensorflow/tfjs-node 4.',
    );
  }
  const event = tf.scalar(sessionStartEvent(step, Date.now() / 1000), 'string');
  try {
    // TF's ImportEvent op writes a serialized Event through the writer, like a summary.
    internals.backend.executeMultipleOutputs('ImportEvent', [], [internals.resourceHandle, event], 0);
  } finally {
    event.dispose();
  }
}

/**
 * TensorFlow names a new event file by the current second, host and pid. A run restarted within the same
 * second as an earlier writer of the directory could get a name TensorBoard reads before the earlier file
 * (pids are not ordered), and then the earlier run's points would come after this run's START. Waiting for
 * the next second (at most one, only then) keeps files in the order they were written.
 */
async function waitForNewFileName(dir: string): Promise<void> {
  let newest = -1;
  try {
    for (const name of fs.readdirSync(dir)) {
      const match = EVENT_FILE.exec(name);
      if (match !== null) newest = Math.max(newest, Number(match[1]));
    }
  } catch {
    return; // no directory yet: no earlier file
  }
  const nowSecs = () => Math.floor(Date.now() / 1000);
  if (nowSecs() !== newest) return;
  while (nowSecs() === newest) await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 1));
}
