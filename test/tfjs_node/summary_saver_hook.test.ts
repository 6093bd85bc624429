/**
 * Only in `npm run test:tfjs-node`: SummarySaverHook's TensorBoard curve continues across a kill -9. A child
 * trains with it and SIGKILLs itself after step 10 (once checkpoint 9 is durable, so it wrote points that
 * the resumed run supersedes); a second child resumes and finishes. The event files are read back
 * (test/helpers/event_files.ts: TFRecord framing, CRCs, Event protobuf) and compared with an uninterrupted
 * run's: the curve TensorBoard shows must be the same points, at the same global steps, bit for bit.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { data, HookCallback, SummarySaverHook, TfjsNodeRequiredError } from '../../src';
import { STEPS_PER_SEC_TAG } from '../../src/hooks/summary_saver_hook';
import { useTestBackend } from '../helpers/test_backend';
import { runChild } from '../helpers/crash_harness';
import { readEventDir, visibleCurve, type EventRecord } from '../helpers/event_files';
import { tempDir } from '../checkpoint/helpers';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'summary_child.ts');
const KILL_AT = 10;

function resumedStep(stdout: string): number {
  const match = /^resumed (\d+|none)$/m.exec(stdout);
  if (match === null) throw new Error(`the child printed no "resumed" line:\n${stdout}`);
  return match[1] === 'none' ? 0 : Number(match[1]);
}

function steps(events: EventRecord[], kind: EventRecord['kind'], tag?: string): number[] {
  return events.filter((e) => e.kind === kind && (tag === undefined || (e.kind === 'scalar' && e.tag === tag))).map((e) => e.step);
}

describe('SummarySaverHook across a kill -9', () => {
  it('the resumed curve continues at the restored step and supersedes what the killed run wrote after it', async () => {
    const reference = { modelDir: tempDir('tb-ref'), logDir: tempDir('tb-ref-logs') };
    const ref = await runChild(CHILD, [reference.modelDir, reference.logDir]);
    expect(ref.code).toBe(0);
    const expected = visibleCurve(reference.logDir, 'loss');
    // Every 3 steps from the first, over 30 steps.
    expect(expected.map(([step]) => step)).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25, 28]);

    const modelDir = tempDir('tb-kill');
    const logDir = tempDir('tb-kill-logs');
    const killed = await runChild(CHILD, [modelDir, logDir, '--sigkill-at', String(KILL_AT)]);
    expect(killed.signal).toBe('SIGKILL');
    const resumed = await runChild(CHILD, [modelDir, logDir]);
    expect(resumed.code).toBe(0);
    const restored = resumedStep(resumed.stdout);
    // The child waits for checkpoint 9 (saves at 1, 5, 9) before killing itself at step 10.
    expect(restored).toBe(9);

    const files = readEventDir(logDir);
    expect(files).toHaveLength(2);
    const [first, second] = files.map((f) => f.events);
    // The killed run: START at 1, points up to the kill, past the checkpoint it is resumed from.
    expect(steps(first, 'session_start')).toEqual([1]);
    expect(steps(first, 'scalar', 'loss')).toEqual([1, 4, 7, 10]);
    // The resumed run: START at the first step it writes, then the same cadence as the uninterrupted run.
    expect(steps(second, 'session_start')).toEqual([restored + 1]);
    expect(steps(second, 'scalar', 'loss')).toEqual(expected.map(([step]) => step).filter((step) => step > restored));
    for (const events of [first, second]) {
      expect(steps(events, 'scalar', STEPS_PER_SEC_TAG)).toEqual(steps(events, 'scalar', 'loss'));
      for (const e of events) if (e.kind === 'scalar' && e.tag === STEPS_PER_SEC_TAG) expect(e.value).toBeGreaterThan(0);
    }
    // What TensorBoard shows: the uninterrupted run's curve, bit for bit.
    expect(visibleCurve(logDir, 'loss')).toEqual(expected);
    // eslint-disable-next-line no-console
    console.log(
      `TensorBoard: killed run wrote loss at [${steps(first, 'scalar', 'loss')}], resumed at step ${restored} with ` +
        `SessionLog.START at [${steps(second, 'session_start')}], wrote [${steps(second, 'scalar', 'loss')}]; visible ` +
        `[${visibleCurve(logDir, 'loss').map(([s]) => s)}] = uninterrupted`,
    );
  }, 180_000);
});

describe('SummarySaverHook on another backend than tensorflow', () => {
  afterEach(async () => {
    await useTestBackend();
  });

  it('fails the fit with TfjsNodeRequiredError naming the active backend, before any step', async () => {
    await tf.setBackend('cpu');
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const dataset = data.array([{ xs: [1], ys: [2] }]).map((e) => ({ xs: tf.tensor1d(e.xs), ys: tf.tensor1d(e.ys) })).batch(1);
    const hook = new SummarySaverHook({ outputDir: tempDir('tb-cpu'), saveSteps: 1 });
    await expect(model.fitDataset(dataset, { epochs: 1, callbacks: [new HookCallback([hook])] })).rejects.toThrow(
      new TfjsNodeRequiredError(
        "SummarySaverHook writes through tfjs-node's summary writer, which needs the 'tensorflow' backend, but the " +
          "active backend is 'cpu'. Train on it: await tf.setBackend('tensorflow') (or useFastestBackend()).",
      ),
    );
  });
});
