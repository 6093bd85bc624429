import type { CrashConfig } from '../fixtures/crash_model';
import type { ChildOutcome } from './crash_harness';

// How the kill -9 suites talk to test/fixtures/crash_child.ts: its arguments, the lines it prints, and the
// seeds a run selects (CHAOS_SEEDS=N runs seeds 1..N, CHAOS_SEED=S only seed S).

function envInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}".`);
  return value;
}

/** The seeds this run covers: `CHAOS_SEED`, else 1..`CHAOS_SEEDS` (default `defaultCount`). */
export function selectedSeeds(defaultCount: number): number[] {
  if (process.env.CHAOS_SEED !== undefined) return [envInteger('CHAOS_SEED', 1)];
  return Array.from({ length: envInteger('CHAOS_SEEDS', defaultCount) }, (_, i) => i + 1);
}

/** The crash child's command line for one configuration. */
export function childArgs(config: CrashConfig, modelDir: string, outFile: string): string[] {
  return [
    modelDir,
    outFile,
    '--epochs',
    String(config.epochs),
    '--save-steps',
    String(config.saveSteps),
    ...(config.batchesPerEpoch !== undefined ? ['--batches-per-epoch', String(config.batchesPerEpoch)] : []),
  ];
}

/** Numbers of every `<word> N` line of a child's stdout. */
export function numbersOf(word: string, stdout: string): number[] {
  return [...stdout.matchAll(new RegExp(`^${word} (\\d+)$`, 'gm'))].map((m) => Number(m[1]));
}

/** The step a child started from: its `resumed` line (`none` → 0). */
export function resumedStep(outcome: ChildOutcome): number | undefined {
  const match = /^resumed (none|\d+)$/m.exec(outcome.stdout);
  return match === null ? undefined : match[1] === 'none' ? 0 : Number(match[1]);
}

/** The sha256 of the final weights from the child's `done` line. */
export function doneSha(outcome: ChildOutcome): string {
  const match = /^done ([0-9a-f]{64})$/m.exec(outcome.stdout);
  if (match === null) throw new Error(`the child printed no "done <sha256>" line:\n${outcome.stdout.slice(-2000)}`);
  return match[1];
}
