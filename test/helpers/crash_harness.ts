import { spawn } from 'child_process';
import * as path from 'path';
import seedrandom from 'seedrandom';

/** One SIGKILL the harness delivered: after which reported step, and how long after it. */
export interface KillRecord {
  afterStep: number;
  delayMs: number;
  /** Whether the child had already finished by itself when the kill was due. */
  childFinishedFirst: boolean;
}

/** What a child run printed and how it ended. */
export interface ChildOutcome {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock time (ms since the epoch, as the child's `Date.now()`) the SIGKILL was sent, if it was. */
  killedAtMs?: number;
  /** Highest `step N` line the child printed. */
  lastStep: number;
}

// tsx's own CLI runs the script in a grandchild process, so a SIGKILL to the spawned pid would kill only
// the wrapper and leave the trainer running. Loading tsx as a require hook keeps it one process.
const TSX_REQUIRE_HOOK = require.resolve('tsx/cjs');
const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Runs a TypeScript child script with tsx. If `killAfterStep` is given, the child is sent SIGKILL
 * `killDelayMs` after it prints `step <killAfterStep>` — a random point that often lands inside a
 * checkpoint write, because the child writes right after a step.
 */
export function runChild(
  script: string,
  args: string[],
  kill?: { afterStep: number; delayMs: number; on?: KillTrigger },
  env: NodeJS.ProcessEnv = {},
): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', TSX_REQUIRE_HOOK, script, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let lastStep = 0;
    let killScheduled = false;
    let lastSaved = 0;
    let killedAtMs: number | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      for (const match of chunk.matchAll(/^step (\d+)$/gm)) {
        lastStep = Math.max(lastStep, Number(match[1]));
      }
      for (const match of chunk.matchAll(/^saved (\d+)$/gm)) {
        lastSaved = Math.max(lastSaved, Number(match[1]));
      }
      const reached = kill?.on === 'saved' ? lastSaved : lastStep;
      if (kill !== undefined && !killScheduled && reached >= kill.afterStep) {
        killScheduled = true;
        setTimeout(() => {
          killedAtMs = Date.now();
          child.kill('SIGKILL');
        }, kill.delayMs);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal, lastStep, killedAtMs }));
  });
}

/**
 * Which lines count towards a kill's `afterStep`: `step N` (default), or `saved N` (the child acknowledged
 * checkpoint N as durable), so that the restart has that checkpoint to resume from.
 */
export type KillTrigger = 'step' | 'saved';

/** Called after each SIGKILL, before the restart: the place to inspect what the killed child left on disk. */
export type AfterKill = (kill: KillRecord, killed: ChildOutcome, killIndex: number) => Promise<void>;

/**
 * Runs `script` to completion while killing it with SIGKILL at seeded random points: up to `kills`
 * times, each after a random step in `(previous kill step, maxStep]` plus a random delay of
 * `0..maxDelayMs` ms. Every restart continues from the child's checkpoints. `afterKill` runs after each
 * kill, before the restart (its rejection ends the run). Reproducible from `seed`.
 */
export async function runWithKills(options: {
  script: string;
  args: string[];
  seed: number;
  kills: number;
  maxStep: number;
  maxDelayMs: number;
  env?: NodeJS.ProcessEnv;
  afterKill?: AfterKill;
  /** Which lines count towards a kill's step (default `step`). */
  killOn?: KillTrigger;
}): Promise<{ kills: KillRecord[]; final: ChildOutcome; launches: ChildOutcome[] }> {
  const random = seedrandom.alea(`crash-${options.seed}`);
  const kills: KillRecord[] = [];
  const launches: ChildOutcome[] = [];
  let lowestNextStep = 1;
  for (let k = 0; k < options.kills && lowestNextStep <= options.maxStep; k++) {
    const afterStep = lowestNextStep + Math.floor(random() * (options.maxStep - lowestNextStep + 1));
    const delayMs = Math.floor(random() * (options.maxDelayMs + 1));
    const outcome = await runChild(options.script, options.args, { afterStep, delayMs, on: options.killOn }, options.env);
    launches.push(outcome);
    if (outcome.signal !== 'SIGKILL') {
      if (outcome.code !== 0) throw childFailure(outcome, options.seed);
      kills.push({ afterStep, delayMs, childFinishedFirst: true });
      return { kills, final: outcome, launches };
    }
    const record = { afterStep, delayMs, childFinishedFirst: false };
    kills.push(record);
    await options.afterKill?.(record, outcome, k);
    lowestNextStep = afterStep + 1;
  }
  const final = await runChild(options.script, options.args, undefined, options.env);
  launches.push(final);
  if (final.code !== 0) throw childFailure(final, options.seed);
  return { kills, final, launches };
}

/** Runs `script` once to completion (no kill); throws with its output if it fails. */
export async function runToCompletion(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildOutcome> {
  const outcome = await runChild(script, args, undefined, env);
  if (outcome.code !== 0) {
    throw new Error(
      `child ${path.basename(script)} ${args.join(' ')} failed (code ${outcome.code}, signal ${outcome.signal}):\n` +
        `--- stdout\n${outcome.stdout.slice(-3000)}\n--- stderr\n${outcome.stderr.slice(-3000)}`,
    );
  }
  return outcome;
}

/** Runs tasks with at most `limit` of them in flight at once (children share the machine's cores). */
export class TaskPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so a newcomer cannot slip in between.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

function childFailure(outcome: ChildOutcome, seed: number): Error {
  return new Error(
    `crash child failed (seed ${seed}, code ${outcome.code}, signal ${outcome.signal}):\n` +
      `--- stdout\n${outcome.stdout.slice(-3000)}\n--- stderr\n${outcome.stderr.slice(-3000)}`,
  );
}
