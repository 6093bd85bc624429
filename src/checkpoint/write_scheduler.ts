import { CheckpointLockError } from '../errors';
import type { CheckpointLogger } from './logger';
import { type WriteJob, seriesOf, stepOf } from './write_job';

/** How one submitted job ended. */
export type WriteStatus =
  | { id: number; status: 'written' }
  | { id: number; status: 'replaced'; by: number }
  | { id: number; status: 'failed'; error: unknown };

/** A {@link WriteStatus} with its job, whose buffers are free again once it was written or replaced. */
export type WriteOutcome = WriteStatus & { job: WriteJob };

/**
 * The checkpoint writer's queue discipline, used as is by the worker and by in-thread writing: one job
 * in flight and at most one waiting per series (model, each input series). A newer job replaces the
 * waiting one of its series, so memory stays bounded and a slow disk makes checkpoints sparser instead
 * of making training wait. Waiting jobs run in submission order (a replacement takes the end of the
 * queue), so an input checkpoint queued before the model checkpoint of the same step is durable first.
 *
 * The saves of one step are a set: a model checkpoint resumes exactly only with the input checkpoint of
 * its step. So replacing a waiting job also replaces the jobs of its step queued after it; otherwise the
 * model checkpoint of step s could become latest while the input checkpoint of step s was never written,
 * and a kill before the newer input save landed would resume the data from another step.
 */
export class WriteScheduler {
  private readonly waiting = new Map<string, { id: number; job: WriteJob }>();
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  /**
   * @param write writes one job until it is durable and latest (throws when it failed) and returns its
   *   retention, which runs after the job is reported written and before the next job starts.
   * @param settled told the outcome of every job, in completion order.
   * @param retentionFailed told when a job's retention threw, after the job was reported written (the save
   *   itself stands; the next save's retention retries).
   */
  constructor(
    private readonly write: (job: WriteJob) => Promise<() => Promise<void>>,
    private readonly settled: (outcome: WriteOutcome) => void,
    private readonly retentionFailed: (error: unknown, job: WriteJob) => void,
  ) {}

  /** Queues `job` under `id` (behind the one in flight, replacing the waiting one of its series). */
  submit(id: number, job: WriteJob): void {
    const series = seriesOf(job);
    const replaced = this.waiting.get(series);
    if (replaced !== undefined) {
      const step = stepOf(replaced.job);
      // The waiting jobs are in submission order: the replaced one, then the rest of its step's set.
      for (const [other, waiting] of [...this.waiting]) {
        if (other === series || (waiting.id > replaced.id && stepOf(waiting.job) === step)) {
          this.waiting.delete(other);
          this.settled({ id: waiting.id, job: waiting.job, status: 'replaced', by: id });
        }
      }
    }
    this.waiting.set(series, { id, job });
    if (!this.running) void this.pump();
  }

  /** Resolves once nothing is in flight or waiting. */
  drained(): Promise<void> {
    return this.idle;
  }

  /** Whether a job is in flight or waiting. */
  get busy(): boolean {
    return this.running;
  }

  private async pump(): Promise<void> {
    this.running = true;
    this.idle = new Promise<void>((resolve) => (this.markIdle = resolve));
    for (let next = this.takeNext(); next !== undefined; next = this.takeNext()) {
      let applyRetention: () => Promise<void>;
      try {
        applyRetention = await this.write(next.job);
      } catch (error) {
        this.settled({ id: next.id, job: next.job, status: 'failed', error });
        continue;
      }
      this.settled({ id: next.id, job: next.job, status: 'written' });
      try {
        await applyRetention();
      } catch (error) {
        this.retentionFailed(error, next.job);
      }
    }
    this.running = false;
    this.markIdle();
  }

  private takeNext(): { id: number; job: WriteJob } | undefined {
    const first = this.waiting.entries().next();
    if (first.done === true) return undefined;
    this.waiting.delete(first.value[0]);
    return first.value[1];
  }
}

/**
 * What the writer does with a retention that failed after its save was acknowledged: a lost lock (the fenced
 * delete found another job's token) is returned, for the writer to stop with it at the next step as for a
 * failed write; anything else is a warning, since the save is durable and latest either way.
 */
export function handleRetentionFailure(error: unknown, job: WriteJob, logger: CheckpointLogger): CheckpointLockError | undefined {
  if (error instanceof CheckpointLockError) return error;
  logger.warn(
    `Retention after the save of step ${stepOf(job)} failed (${error instanceof Error ? error.message : String(error)}); ` +
      'the save itself is durable and latest, and the next save applies retention again.',
  );
  return undefined;
}
