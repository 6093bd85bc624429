import type { WriteJob } from '../../src/checkpoint/write_job';
import { type WriteOutcome, WriteScheduler } from '../../src/checkpoint/write_scheduler';

/** Only the series and the step matter to the scheduler; the payload is never read here. */
function modelJob(step: number): WriteJob {
  return { kind: 'model', meta: { globalStep: step } } as unknown as WriteJob;
}

function inputJob(step: number): WriteJob {
  return { kind: 'blob', indexName: 'checkpoint_input', prefix: 'input.ckpt', keepMax: 5, step, bytes: new Uint8Array(0), protectNewestModelStep: true };
}

function nameOf(job: WriteJob): string {
  return job.kind === 'model' ? `model-${job.meta.globalStep}` : `input-${job.step}`;
}

/** A scheduler whose writes finish only when the test releases them, recording what it writes and settles. */
function harness(): {
  scheduler: WriteScheduler;
  started: string[];
  outcomes: string[];
  release: () => Promise<void>;
  finish: () => Promise<void>;
} {
  const started: string[] = [];
  const outcomes: string[] = [];
  const gates: Array<() => void> = [];
  const scheduler = new WriteScheduler(
    async (job) => {
      started.push(nameOf(job));
      await new Promise<void>((resolve) => gates.push(resolve));
      return async () => undefined;
    },
    (outcome: WriteOutcome) => outcomes.push(`${nameOf(outcome.job)} ${outcome.status}${outcome.status === 'replaced' ? ` by ${outcome.by}` : ''}`),
    () => undefined,
  );
  // Lets the write in flight finish, then gives the pump the turns it needs to start the next one.
  const release = async (): Promise<void> => {
    gates.shift()?.();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  // Releases writes one by one until nothing is in flight or waiting.
  const finish = async (): Promise<void> => {
    while (scheduler.busy) await release();
    await scheduler.drained();
  };
  return { scheduler, started, outcomes, release, finish };
}

describe('WriteScheduler', () => {
  it('one in flight and one waiting per series: a newer save of a series replaces its waiting one', async () => {
    const { scheduler, started, outcomes, finish } = harness();
    scheduler.submit(1, modelJob(2));
    scheduler.submit(2, modelJob(4));
    scheduler.submit(3, modelJob(6));
    await finish();
    expect(started).toEqual(['model-2', 'model-6']);
    expect(outcomes).toEqual(['model-4 replaced by 3', 'model-2 written', 'model-6 written']);
  });

  it('the input checkpoint of a step is written before the model checkpoint of that step', async () => {
    const { scheduler, started, outcomes, finish } = harness();
    scheduler.submit(1, modelJob(2));
    scheduler.submit(2, inputJob(4));
    scheduler.submit(3, modelJob(4));
    await finish();
    expect(started).toEqual(['model-2', 'input-4', 'model-4']);
    expect(outcomes).toEqual(['model-2 written', 'input-4 written', 'model-4 written']);
  });

  it('replacing the waiting input checkpoint of a step also replaces the model checkpoint queued after it for that step', async () => {
    // In flight: model-2. Waiting: input-4, model-4. Then step 6's input save arrives, and the write in
    // flight finishes before step 6's model save is submitted (the worker runs concurrently). model-4 must
    // not be written: its input checkpoint was replaced, so a resume from it would find no input of step 4.
    const { scheduler, started, outcomes, release, finish } = harness();
    scheduler.submit(1, modelJob(2));
    scheduler.submit(2, inputJob(4));
    scheduler.submit(3, modelJob(4));
    scheduler.submit(4, inputJob(6));
    await release();
    scheduler.submit(5, modelJob(6));
    await finish();
    expect(started).toEqual(['model-2', 'input-6', 'model-6']);
    expect(outcomes).toEqual(['input-4 replaced by 4', 'model-4 replaced by 4', 'model-2 written', 'input-6 written', 'model-6 written']);
  });

  it('a model checkpoint waiting alone is replaced by the next one, and the input save between them stays before it', async () => {
    // In flight: input-4. Waiting: model-4. Step 6: input-6 then model-6 arrive; model-6 replaces model-4
    // and is queued after input-6.
    const { scheduler, started, outcomes, finish } = harness();
    scheduler.submit(1, inputJob(4));
    scheduler.submit(2, modelJob(4));
    scheduler.submit(3, inputJob(6));
    scheduler.submit(4, modelJob(6));
    await finish();
    expect(started).toEqual(['input-4', 'input-6', 'model-6']);
    expect(outcomes).toEqual(['model-4 replaced by 4', 'input-4 written', 'input-6 written', 'model-6 written']);
  });
});
