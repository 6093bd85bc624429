import { RunConfig } from '../../src/estimator/run_config';
import { InvalidArgumentError } from '../../src/errors';

describe('RunConfig', () => {
  it('defaults to TF values: 600 s cadence, keep 5, single worker that is chief', () => {
    const config = new RunConfig({}, {});
    expect({
      steps: config.saveCheckpointsSteps,
      secs: config.saveCheckpointsSecs,
      keep: config.keepCheckpointMax,
      replicas: config.numWorkerReplicas,
      type: config.taskType,
      id: config.taskId,
      chief: config.isChief,
    }).toEqual({ steps: undefined, secs: 600, keep: 5, replicas: 1, type: 'worker', id: 0, chief: true });
  });

  it('a step cadence replaces the default seconds cadence', () => {
    const config = new RunConfig({ saveCheckpointsSteps: 100 }, {});
    expect([config.saveCheckpointsSteps, config.saveCheckpointsSecs]).toEqual([100, undefined]);
  });

  it('refuses both cadences, and non-positive values', () => {
    expect(() => new RunConfig({ saveCheckpointsSteps: 10, saveCheckpointsSecs: 5 }, {})).toThrow(
      new InvalidArgumentError(
        'RunConfig: saveCheckpointsSteps (10) and saveCheckpointsSecs (5) cannot both be set; choose one cadence.',
      ),
    );
    expect(() => new RunConfig({ saveCheckpointsSteps: 0 }, {})).toThrow(
      new InvalidArgumentError('RunConfig: saveCheckpointsSteps must be a positive integer, got 0.'),
    );
    expect(() => new RunConfig({ saveCheckpointsSteps: -3 }, {})).toThrow(InvalidArgumentError);
    expect(() => new RunConfig({ saveCheckpointsSecs: -1 }, {})).toThrow(
      new InvalidArgumentError('RunConfig: saveCheckpointsSecs must be a positive number, got -1.'),
    );
    expect(() => new RunConfig({ keepCheckpointMax: 0 }, {})).toThrow(InvalidArgumentError);
  });

  it('reads the cluster and task from TF_CONFIG as TF does', () => {
    const env = {
      TF_CONFIG: JSON.stringify({
        cluster: { chief: ['h0:1'], worker: ['h1:1', 'h2:1', 'h3:1'] },
        task: { type: 'worker', index: 2 },
      }),
    };
    const worker = new RunConfig({}, env);
    expect([worker.numWorkerReplicas, worker.taskType, worker.taskId, worker.isChief]).toEqual([4, 'worker', 2, false]);
    const chiefEnv = { TF_CONFIG: JSON.stringify({ cluster: { chief: ['h0:1'], worker: ['h1:1'] }, task: { type: 'chief', index: 0 } }) };
    expect(new RunConfig({}, chiefEnv).isChief).toBe(true);
    const noChief = { TF_CONFIG: JSON.stringify({ cluster: { worker: ['a:1', 'b:1'] }, task: { type: 'worker', index: 0 } }) };
    expect([new RunConfig({}, noChief).isChief, new RunConfig({}, noChief).numWorkerReplicas]).toEqual([true, 2]);
  });

  it('explicit options win over TF_CONFIG', () => {
    const env = { TF_CONFIG: JSON.stringify({ cluster: { worker: ['a:1', 'b:1'] }, task: { type: 'worker', index: 1 } }) };
    const config = new RunConfig({ taskId: 0, numWorkerReplicas: 3 }, env);
    expect([config.taskId, config.numWorkerReplicas, config.isChief]).toEqual([0, 3, true]);
  });

  it('rejects a malformed TF_CONFIG with a message that shows the expected form', () => {
    expect(() => new RunConfig({}, { TF_CONFIG: '{oops' })).toThrow(/^TF_CONFIG is not valid JSON .*expected \{"cluster"/);
    expect(() => new RunConfig({}, { TF_CONFIG: JSON.stringify({ task: { type: 'worker', index: -1 } }) })).toThrow(
      new InvalidArgumentError('TF_CONFIG task.index must be a non-negative integer.'),
    );
    expect(
      () => new RunConfig({}, { TF_CONFIG: JSON.stringify({ cluster: { worker: ['a:1'] }, task: { type: 'worker', index: 3 } }) }),
    ).toThrow(new InvalidArgumentError('TF_CONFIG task worker:3 is not in cluster.worker (1 members).'));
  });

  it('lockWaitMs: 0 by default, kept by replace(), refused when negative or not finite', () => {
    expect(new RunConfig({}, {}).lockWaitMs).toBe(0);
    expect(new RunConfig({ lockWaitMs: 180_000 }, {}).replace({ keepCheckpointMax: 2 }).lockWaitMs).toBe(180_000);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RunConfig({ lockWaitMs: bad }, {})).toThrow(
        new InvalidArgumentError(`RunConfig: lockWaitMs must be a number of milliseconds >= 0 (0: do not wait), got ${bad}.`),
      );
    }
  });

  it('replace() keeps everything else and may switch the cadence', () => {
    const config = new RunConfig({ saveCheckpointsSteps: 10, keepCheckpointMax: 2 }, {});
    const bySecs = config.replace({ saveCheckpointsSecs: 30 });
    expect([bySecs.saveCheckpointsSteps, bySecs.saveCheckpointsSecs, bySecs.keepCheckpointMax]).toEqual([undefined, 30, 2]);
    expect(config.replace({ keepCheckpointMax: 7 }).saveCheckpointsSteps).toBe(10);
  });
});
