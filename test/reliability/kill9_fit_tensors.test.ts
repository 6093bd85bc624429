/**
 * kill -9 for the tensor form `resumableFit(model, xs, ys, { shuffle, validation... })`: a child
 * (test/fixtures/fit_tensors_child.ts) is SIGKILLed at seeded random points and restarted until it
 * finishes. Odd seeds train with validationSplit and are killed 1–2 times, each soon after a random
 * checkpoint was acknowledged (so every restart resumes mid-run, at least from it); even seeds validate
 * on 6,000 rows and are killed first while an epoch's validation runs (right after its last step), then
 * once more after an acknowledged checkpoint. Every epoch line any start printed (a plain `{ onEpochEnd }`
 * callback), the final History and the final weights must equal the uninterrupted run's bit for bit.
 *
 * `FIT_TENSORS_SEEDS=N` runs seeds 1..N (default 10); `FIT_TENSORS_SEED=S` runs only seed S.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import seedrandom from 'seedrandom';
import { TaskPool, runChild, runToCompletion, runWithKills, type ChildOutcome } from '../helpers/crash_harness';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'fit_tensors_child.ts');
const EPOCHS = 3;
const STEPS_PER_EPOCH = { split: 6, data: 5 } as const;
type Mode = keyof typeof STEPS_PER_EPOCH;
const SAVE_STEPS = 2;
const pool = new TaskPool(2);
const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-kill9-tensors-'));

function seeds(): number[] {
  const one = process.env.FIT_TENSORS_SEED;
  if (one !== undefined) return [Number(one)];
  return Array.from({ length: Number(process.env.FIT_TENSORS_SEEDS ?? 10) }, (_, i) => i + 1);
}

function args(mode: Mode, modelDir: string): string[] {
  return [modelDir, '--validation', mode, '--save-steps', String(SAVE_STEPS)];
}

/** `epoch <e> <logs>` lines by epoch. */
function epochLines(outcome: ChildOutcome): Map<number, string> {
  return new Map([...outcome.stdout.matchAll(/^epoch (\d+) (.*)$/gm)].map((m) => [Number(m[1]), m[2]]));
}

function lineOf(word: string, outcome: ChildOutcome): string {
  const match = new RegExp(`^${word} (.*)$`, 'm').exec(outcome.stdout);
  if (match === null) throw new Error(`the child printed no "${word}" line:\n${outcome.stdout.slice(-2000)}\n${outcome.stderr.slice(-2000)}`);
  return match[1];
}

const references = new Map<Mode, Promise<ChildOutcome>>();
function reference(mode: Mode): Promise<ChildOutcome> {
  let outcome = references.get(mode);
  if (outcome === undefined) {
    outcome = runToCompletion(CHILD, args(mode, path.join(tempRoot, `reference-${mode}`)));
    references.set(mode, outcome);
  }
  return outcome;
}

async function runSeed(seed: number): Promise<string> {
  const mode: Mode = seed % 2 === 1 ? 'split' : 'data';
  const modelDir = path.join(tempRoot, `seed-${seed}`);
  const expected = await reference(mode);
  const launches: ChildOutcome[] = [];
  const story: string[] = [];
  let kills = 1 + Math.floor(seedrandom.alea(`kill-count-${seed}`)() * 2);
  if (mode === 'data') {
    // Right after an epoch's last step: its validation (about half a second on 6,000 rows) is running.
    const epoch = seed % EPOCHS;
    const lastStep = (epoch + 1) * STEPS_PER_EPOCH.data;
    const killed = await runChild(CHILD, args(mode, modelDir), { afterStep: lastStep, delayMs: 5 });
    expect(killed.signal).toBe('SIGKILL');
    // It got through the epoch's batches but not to the epoch's end: killed during validation.
    expect([killed.lastStep, epochLines(killed).has(epoch)]).toEqual([lastStep, false]);
    launches.push(killed);
    story.push(`killed during validation of epoch ${epoch} (after step ${lastStep})`);
    kills = 1;
  }
  const totalSteps = EPOCHS * STEPS_PER_EPOCH[mode];
  const run = await runWithKills({ script: CHILD, args: args(mode, modelDir), seed, kills, maxStep: totalSteps - 1, maxDelayMs: 40, killOn: 'saved' });
  launches.push(...run.launches);
  // A start after a kill resumes at least from the newest checkpoint the killed start acknowledged (or a newer
  // one: a save can be durable before its acknowledgement reaches stdout, when the kill lands in between).
  for (let i = 1; i < launches.length; i++) {
    const acknowledged = Math.max(0, ...[...launches[i - 1].stdout.matchAll(/^saved (\d+)$/gm)].map((m) => Number(m[1])));
    const resumed = lineOf('resumed', launches[i]);
    const resumedStep = resumed === 'none' ? 0 : Number(resumed);
    expect({ launch: i, resumedAtLeastAcknowledged: resumedStep >= acknowledged }).toEqual({ launch: i, resumedAtLeastAcknowledged: true });
  }
  for (const kill of run.kills) story.push(kill.childFinishedFirst ? 'finished before its kill' : `killed after step ${kill.afterStep} +${kill.delayMs} ms`);
  story.push(`resumed at [${launches.map((l) => lineOf('resumed', l)).join(', ')}]`);

  const reported = epochLines(expected);
  for (const launch of launches) {
    for (const [epoch, logs] of epochLines(launch)) expect({ epoch, logs }).toEqual({ epoch, logs: reported.get(epoch) });
  }
  expect(lineOf('history', run.final)).toBe(lineOf('history', expected));
  expect(lineOf('done', run.final)).toBe(lineOf('done', expected));
  fs.rmSync(modelDir, { recursive: true, force: true });
  return `seed ${seed} (${mode}, ${EPOCHS * STEPS_PER_EPOCH[mode]} steps): ${story.join('; ')}; History and weights equal`;
}

const lines: string[] = [];
const results = new Map<number, Promise<string>>();
function resultOf(seed: number): Promise<string> {
  if (results.size === 0) for (const s of seeds()) results.set(s, pool.run(() => runSeed(s)));
  return results.get(seed) as Promise<string>;
}

afterAll(() => {
  console.log(lines.join('\n'));
  fs.rmSync(tempRoot, { recursive: true, force: true });
});

describe('resumableFit(model, xs, ys) killed with SIGKILL and restarted equals the uninterrupted run', () => {
  it.each(seeds())(
    'seed %i',
    async (seed) => {
      try {
        lines.push(await resultOf(seed));
      } catch (error) {
        lines.push(`seed ${seed}: FAILED — re-run: FIT_TENSORS_SEED=${seed} npx jest test/reliability/kill9_fit_tensors`);
        throw error;
      }
    },
    180_000,
  );
});
