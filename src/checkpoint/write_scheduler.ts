import { type WriteJob, seriesOf } from './write_job';

/** How one submitted job ended. */
export type WriteOutcome =
  | { id: number; status: 'written' }
  | { id: number; status: 'replaced'; by: number }
  | { id: number; status: 'failed'; error: unknown };

/**
 * The checkpoint writer's queue discipline, used as is by the worker and by in-thread writing: one job
 * in flight and at most one waiting per series (model, each input series). A newer job replaces the
 * waiting one of its series, so memory stays bounded and a slow disk makes checkpoints sparser instead
 * of making training wait. Waiting jobs run in the order their series first queued, so an input
 * checkpoint queued before the model checkpoint of the same step is durable first.
 */
export class WriteScheduler {
  private readonly waiting = new Map<string, { id: number; job: WriteJob }>();
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  /**
   * @param write writes one job (throws when it failed).
   * @param settled told the outcome of every job, in completion order.
   */
  constructor(
    private readonly write: (job: WriteJob) => Promise<void>,
    private readonly settled: (outcome: WriteOutcome) => void,
  ) {}

  /** Queues `job` under `id` (behind the one in flight, replacing the waiting one of its series). */
  submit(id: number, job: WriteJob): void {
    const series = seriesOf(job);
    const replaced = this.waiting.get(series);
    if (replaced !== undefined) {
      this.waiting.delete(series);
      this.settled({ id: replaced.id, status: 'replaced', by: id });
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
      try {
        await this.write(next.job);
        this.settled({ id: next.id, status: 'written' });
      } catch (error) {
        this.settled({ id: next.id, status: 'failed', error });
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
