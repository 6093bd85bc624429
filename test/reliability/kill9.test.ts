/**
 * kill -9 at random points, for real: a training child (test/fixtures/crash_child.ts) is SIGKILLed 1–3
 * times per seed — after a random step plus a random delay, so kills land in training, inside checkpoint
 * writes (they run in the background) and around the end — and restarted each time until it finishes.
 * After every kill the parent checks what is on disk: every indexed checkpoint verifies, `restoreLatest`
 * succeeds without falling back and names a checkpoint at least as new as the last one the child
 * acknowledged (`saved N`, printed from `afterSave`), and the next start resumes from exactly that
 * checkpoint. The finished run's weights must equal, bit for bit (sha256), an uninterrupted reference run.
 *
 * `CHAOS_SEEDS=N` runs seeds 1..N (default 20); `CHAOS_SEED=S` runs only seed S.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import seedrandom from 'seedrandom';
import { restoreLatest, verifyCheckpoints, type CheckpointInfo } from '../../src/checkpoint/checkpoint_manager';
import { CheckpointNotFoundError } from '../../src/errors';
import { RecordingLogger } from '../checkpoint/helpers';
import { CRASH_CONFIGS, buildCrashModel, totalSteps, type CrashConfig } from '../fixtures/crash_model';
import { TaskPool, runToCompletion, runWithKills, type ChildOutcome, type KillRecord } from '../helpers/crash_harness';
import { childArgs, doneSha, numbersOf, resumedStep, selectedSeeds } from '../helpers/crash_child_io';
import { useTestBackend } from '../helpers/test_backend';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'crash_child.ts');
/** A checkpoint write takes ~20–60 ms here (fsyncs): delays up to this put many kills inside one. */
const MAX_DELAY_MS = 60;
/** Two cores: two children at a time. */
const pool = new TaskPool(2);

function configFor(seed: number): CrashConfig {
  return CRASH_CONFIGS[seed % CRASH_CONFIGS.length];
}

/**
 * The bound below is a latency target, so on a shared, loaded machine it is measured and printed by `npm test`
 * (like the benchmarks) and asserted per kill only with KILL9_STRICT_BOUND=1 (`npm run test:chaos` sets it). What
 * holds whatever the load is asserted always: no restart resumes older than the newest acknowledged save.
 */
const STRICT_BOUND = process.env.KILL9_STRICT_BOUND === '1';
/** Kills the bound applied to, how many it held for, and the misses (printed at the end). */
const boundChecks = { tried: 0, held: 0, missed: [] as string[] };

/**
 * A kill loses at most the saves triggered less than this before it on a quiet machine (issue 11's target: their
 * writes had no time to finish).
 */
const BOUNDED_LOSS_MS = 200;

/** The slowest trigger → acknowledgement time of a child's saves, in ms (how long its writes took under this load). */
function slowestSaveMs(outcome: ChildOutcome): number {
  return Math.max(0, ...[...outcome.stdout.matchAll(/^latency \d+ (\d+)$/gm)].map((m) => Number(m[1])));
}

/**
 * How long before a kill a save must have been triggered to be owed: {@link BOUNDED_LOSS_MS}, or twice the child's
 * slowest save when the machine is loaded. Twice, because the writer keeps one save in flight and one waiting: a
 * save triggered at t rides in the waiting slot (itself or a newer snapshot replacing it), which starts by the time
 * the save in flight ends (t + L) and ends by t + 2L. A writer that loses or delays saves beyond that misses it.
 */
function lossBoundMs(killed: ChildOutcome): number {
  return Math.max(BOUNDED_LOSS_MS, 2 * slowestSaveMs(killed));
}

/**
 * The newest save the killed child triggered at least {@link lossBoundMs} before the kill (0: none). A child that
 * acknowledged no save before its kill gives no measure of its write time (its first save, cold after a restart,
 * can take longer than its whole life under load), so no bound beyond "not older than acknowledged" applies to it.
 */
function newestSaveDueBy(killed: ChildOutcome): number {
  if (killed.killedAtMs === undefined || !/^latency /m.test(killed.stdout)) return 0;
  const bound = lossBoundMs(killed);
  const due = [...killed.stdout.matchAll(/^trigger (\d+) at (\d+)$/gm)]
    .filter((m) => Number(m[2]) <= (killed.killedAtMs as number) - bound)
    .map((m) => Number(m[1]));
  return due.length > 0 ? Math.max(...due) : 0;
}

const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-kill9-'));

/** The uninterrupted run of each configuration, computed once, in a child like the others. */
const references = new Map<string, Promise<string>>();
function referenceSha(config: CrashConfig): Promise<string> {
  let sha = references.get(config.name);
  if (sha === undefined) {
    const dir = path.join(tempRoot, `reference-${config.name}`);
    sha = runToCompletion(CHILD, childArgs(config, path.join(dir, 'model'), path.join(dir, 'weights.bin'))).then(doneSha);
    references.set(config.name, sha);
  }
  return sha;
}

/** What the parent checked after one kill. */
interface KillCheck {
  /** The checkpoint step restoreLatest restored (0: none yet). */
  restoredStep: number;
}

/**
 * The disk after a kill. Once an index exists: every checkpoint it names verifies file by file, and
 * restoreLatest restores its latest without any fallback. Before the first index write (killed during
 * the run's first save) restoreLatest scans the directories: it must restore the newest one that
 * verifies, having skipped (with a warning each) only newer ones that do not. Either way the restored
 * step is at least every step the child acknowledged.
 */
async function checkAfterKill(modelDir: string, acknowledged: number): Promise<KillCheck> {
  let infos: CheckpointInfo[];
  try {
    infos = await verifyCheckpoints(modelDir);
  } catch (e) {
    // Killed before the child created its modelDir: nothing can have been acknowledged.
    if (!(e instanceof CheckpointNotFoundError)) throw e;
    infos = [];
  }
  const indexed = infos.filter((i) => i.inIndex);
  expect(indexed.filter((i) => i.status !== 'ok')).toEqual([]);

  const logger = new RecordingLogger();
  const model = buildCrashModel();
  try {
    const restored = await restoreLatest(model, modelDir, { logger });
    const restoredStep = restored?.globalStep ?? 0;
    if (restoredStep < acknowledged) {
      throw new Error(
        `acknowledged checkpoint lost: the child reported "saved ${acknowledged}" but the latest restorable step is ${restoredStep}`,
      );
    }
    if (indexed.length > 0) {
      const latest = indexed.find((i) => i.latest);
      expect({ restored: restored?.path, warnings: logger.warnings }).toEqual({ restored: latest?.path, warnings: [] });
    } else {
      const usable = infos.filter((i) => i.status === 'ok').map((i) => i.step);
      const skipped = infos.filter((i) => i.status !== 'ok' && i.step > restoredStep).length;
      expect({ restoredStep, fallbackWarnings: logger.warnings.length }).toEqual({
        restoredStep: usable.length > 0 ? Math.max(...usable) : 0,
        fallbackWarnings: skipped,
      });
    }
    if (restored !== null) expect(restored.path).toBe(`model.ckpt-${restored.globalStep}`);
    return { restoredStep };
  } finally {
    model.dispose();
  }
}

/** One seed's result: its report line, or the failure (with how to re-run it). */
interface SeedResult {
  line: string;
  failure?: Error;
}

async function runSeed(seed: number): Promise<SeedResult> {
  const config = configFor(seed);
  const dir = path.join(tempRoot, `seed-${seed}`);
  const modelDir = path.join(dir, 'model');
  const outFile = path.join(dir, 'weights.bin');
  const kills: KillRecord[] = [];
  const restoredSteps: number[] = [];
  const stepsLost: number[] = [];
  const slowestSaves: string[] = [];
  try {
    const reference = await referenceSha(config);
    const killCount = 1 + Math.floor(seedrandom.alea(`kill-count-${seed}`)() * 3);
    let acknowledged = 0;
    const run = await runWithKills({
      script: CHILD,
      args: childArgs(config, modelDir, outFile),
      seed,
      kills: killCount,
      maxStep: totalSteps(config),
      maxDelayMs: MAX_DELAY_MS,
      afterKill: async (kill, killed) => {
        kills.push(kill);
        acknowledged = Math.max(acknowledged, ...numbersOf('saved', killed.stdout));
        const { restoredStep } = await checkAfterKill(modelDir, acknowledged);
        restoredSteps.push(restoredStep);
        stepsLost.push(Math.max(0, killed.lastStep - restoredStep));
        slowestSaves.push(/^latency /m.test(killed.stdout) ? String(slowestSaveMs(killed)) : 'none acknowledged');
        const due = newestSaveDueBy(killed);
        if (due > 0) boundChecks.tried++;
        if (restoredStep >= due) {
          if (due > 0) boundChecks.held++;
        } else if (STRICT_BOUND) {
          throw new Error(
            `unbounded loss: checkpoint ${due} was triggered at least ${lossBoundMs(killed)} ms before the kill but the ` +
              `restart resumes from step ${restoredStep} (killed after step ${killed.lastStep}; the slowest acknowledged save ` +
              `of that child took ${slowestSaveMs(killed)} ms from trigger to acknowledgement)`,
          );
        } else {
          boundChecks.missed.push(`seed ${seed}: owed ${due}, resumed from ${restoredStep}`);
        }
      },
    });
    kills.push(...run.kills.filter((k) => k.childFinishedFirst));
    // Every restart resumed from exactly the checkpoint the parent restored after the kill before it.
    expect(run.launches.map(resumedStep)).toEqual([0, ...restoredSteps]);
    // The last start trained exactly the remaining steps, one by one.
    const finalStart = resumedStep(run.final) ?? -1;
    expect(numbersOf('step', run.final.stdout)).toEqual(
      Array.from({ length: totalSteps(config) - finalStart }, (_, i) => finalStart + 1 + i),
    );
    const sha = doneSha(run.final);
    expect(createHash('sha256').update(fs.readFileSync(outFile)).digest('hex')).toBe(sha);
    if (sha !== reference) throw new Error(`final weights differ from the uninterrupted run: sha256 ${sha}, reference ${reference}`);
    fs.rmSync(dir, { recursive: true, force: true });
    return { line: `seed ${seed}: ${describeRun(config, kills, restoredSteps)}, steps lost [${stepsLost.join(', ')}], slowest save [${slowestSaves.join(', ')}] ms (loss bound = max(200 ms, 2 x slowest)), final sha256 equal` };
  } catch (e) {
    const cause = e instanceof Error ? e : new Error(String(e));
    const where = `${describeRun(config, kills, restoredSteps)}; files kept in ${dir}`;
    const failure = new Error(
      `kill -9 seed ${seed} (${where}) failed: ${cause.message}\n` +
        `Re-run just this seed: CHAOS_SEED=${seed} npx jest test/reliability/kill9`,
    );
    failure.stack = `${failure.message}\n${cause.stack ?? ''}`;
    return { line: `seed ${seed}: FAILED (${where})`, failure };
  }
}

function describeRun(config: CrashConfig, kills: KillRecord[], restoredSteps: number[]): string {
  const killed = kills.filter((k) => !k.childFinishedFirst);
  const finishedFirst = kills.length > killed.length ? ' (child finished before the next kill)' : '';
  return (
    `${config.name}, kills after steps [${killed.map((k) => k.afterStep).join(', ')}] ` +
    `(+[${killed.map((k) => k.delayMs).join(', ')}] ms)${finishedFirst}, resumed from [${restoredSteps.join(', ')}]`
  );
}

const seeds = selectedSeeds(20);
const results = new Map<number, Promise<SeedResult>>();
/** Starts every seed at the first test (two at a time), so each test only waits for its own seed. */
function resultOf(seed: number): Promise<SeedResult> {
  if (results.size === 0) for (const s of seeds) results.set(s, pool.run(() => runSeed(s)));
  return results.get(seed) as Promise<SeedResult>;
}
const lines: string[] = [];
let passed = 0;
const startedAt = process.hrtime.bigint();

beforeAll(async () => {
  // restoreLatest warns when resuming under another backend setup than the child's: check on the same one.
  await useTestBackend();
});

afterAll(() => {
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  console.log(
    [
      ...lines,
      `kill -9: ${seeds.length} seeds tried, ${passed} passed (${seconds.toFixed(1)} s, 2 children at a time)`,
      `loss bound max(200 ms, 2 x slowest save): held for ${boundChecks.held} of ${boundChecks.tried} kills it applied to` +
        (boundChecks.missed.length > 0 ? ` (missed: ${boundChecks.missed.join('; ')})` : '') +
        (STRICT_BOUND ? ', asserted' : ', measured (KILL9_STRICT_BOUND=1 asserts it)'),
    ].join('\n'),
  );
  if (passed === seeds.length) fs.rmSync(tempRoot, { recursive: true, force: true });
});

describe('kill -9 at random points: the resumed run equals the uninterrupted run bit for bit', () => {
  it.each(seeds)(
    'seed %i',
    async (seed) => {
      const result = await resultOf(seed);
      lines.push(result.line);
      if (result.failure !== undefined) throw result.failure;
      passed++;
    },
    180_000,
  );
});
