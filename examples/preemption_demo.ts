/**
 * The preemption demo (`npm run demo`): a real training job on mnist digits is killed at random steps —
 * SIGKILL (no warning, as an OOM kill or a reclaimed spot VM), and once SIGTERM (a scheduler's polite
 * stop) — and restarted each time. At the end its final weights are compared, bit for bit, with a run
 * that was never interrupted.
 *
 *   npm run demo                     # seed 1, 3 interruptions
 *   npx tsx examples/preemption_demo.ts --seed 7 --interruptions 5 --epochs 3
 *   npm run demo -- --backend tensorflow   # on tfjs-node (default: the fastest backend that loads)
 *
 * The seed fixes where the kills land, so any run can be reproduced.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command } from 'commander';
import seedrandom from 'seedrandom';

const TRAINER = path.join(__dirname, 'train_mnist.ts');
// tsx as a require hook keeps the trainer in the spawned process itself (tsx's CLI would fork a
// grandchild that a SIGKILL to the spawned pid never reaches).
const TSX_REQUIRE_HOOK = require.resolve('tsx/cjs');
const STEPS_PER_EPOCH = Math.ceil(2000 / 32);

/**
 * The trainer's environment: TensorFlow (tfjs-node) logs INFO banners on every start (CPU features,
 * oneDNN); TF_CPP_MIN_LOG_LEVEL=2 silences most of them unless the user chose a level.
 */
const TRAINER_ENV: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' };

/**
 * Whether a stderr line is TensorFlow's native start-up chatter rather than a message for the user: its
 * INFO lines (`I1202 08:00:00.000000  123 port.cc:153] ...`, which TF 2.21 prints for oneDNN even under
 * TF_CPP_MIN_LOG_LEVEL) and absl's preamble about logging before initialisation. Warnings and errors
 * (W/E/F lines) and everything from JavaScript are still shown.
 */
function isNativeInfoLine(line: string): boolean {
  return /^I\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.-]+:\d+\] /.test(line) ||
    line === 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
}

/** One start of the training process and how it ended. */
interface Launch {
  firstStep: number | null;
  lastStep: number;
  signal: NodeJS.Signals | null;
  exitCode: number | null;
  seconds: number;
  sha256: string | null;
  /** Warnings the trainer printed (lock take-over, fallbacks). */
  stderr: string;
  /** The `epoch e/E loss=.. acc=..` lines it printed, by epoch number. */
  epochLines: Map<number, string>;
}

/** Starts the trainer; sends `signal` `delayMs` after it has run `afterSteps` steps. */
function launch(
  modelDir: string,
  args: string[],
  interrupt: { afterSteps: number; delayMs: number; signal: NodeJS.Signals } | null,
  onLine: (line: string) => void,
): Promise<Launch> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', TSX_REQUIRE_HOOK, TRAINER, '--model-dir', modelDir, ...args], {
      env: TRAINER_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const result: Launch = { firstStep: null, lastStep: 0, signal: null, exitCode: null, seconds: 0, sha256: null, stderr: '', epochLines: new Map() };
    let sent = false;
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const step = /^step (\d+)$/.exec(line);
        if (step !== null) {
          result.lastStep = Number(step[1]);
          result.firstStep ??= result.lastStep;
          if (interrupt !== null && !sent && result.lastStep - result.firstStep + 1 >= interrupt.afterSteps) {
            sent = true;
            setTimeout(() => child.kill(interrupt.signal), interrupt.delayMs);
          }
          continue;
        }
        // One per durable checkpoint: for schedulers and tests, too chatty for the demo's narration.
        if (/^saved \d+$/.test(line)) continue;
        const done = /^done ([0-9a-f]{64})$/.exec(line);
        if (done !== null) result.sha256 = done[1];
        const epoch = /^epoch (\d+)\//.exec(line);
        if (epoch !== null) result.epochLines.set(Number(epoch[1]), line);
        onLine(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      result.exitCode = code;
      result.signal = signal;
      result.seconds = (Date.now() - started) / 1000;
      result.stderr = stderr
        .split('\n')
        .filter((line) => !isNativeInfoLine(line))
        .join('\n');
      // 143 = 128 + SIGTERM: the trainer stopped cleanly, saved, and exited as a signalled job must.
      const stoppedOnSigterm = interrupt?.signal === 'SIGTERM' && code === 143;
      if (signal === null && code !== 0 && !stoppedOnSigterm) reject(new Error(`trainer failed (exit ${code}):\n${stderr}`));
      else resolve(result);
    });
  });
}

/** Index of the first differing float32 weight of two weight files, or -1. */
function firstDifference(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i += 4) if (a.readUInt32LE(i) !== b.readUInt32LE(i)) return i / 4;
  return -1;
}

async function main(): Promise<void> {
  const options = new Command()
    .option('--seed <n>', 'seed of the kill schedule', '1')
    .option('--interruptions <n>', 'how many times to kill the job', '3')
    .option('--epochs <n>', 'epochs to train', '3')
    .option('--save-steps <n>', 'checkpoint every n steps', '20')
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: the fastest that loads)')
    .parse()
    .opts<{ seed: string; interruptions: string; epochs: string; saveSteps: string; backend?: string }>();
  const seed = Number(options.seed);
  const epochs = Number(options.epochs);
  const totalSteps = epochs * STEPS_PER_EPOCH;
  const trainerArgs = [
    '--epochs',
    String(epochs),
    '--save-steps',
    options.saveSteps,
    ...(options.backend !== undefined ? ['--backend', options.backend] : []),
  ];
  const random = seedrandom.alea(`preemption-demo-${seed}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-demo-'));
  const modelDir = path.join(work, 'preempted');
  console.log(`tfjs-resumable preemption demo — seed ${seed} (rerun with --seed ${seed})`);
  console.log(`training an MLP on 2,000 real mnist digits: ${epochs} epochs × ${STEPS_PER_EPOCH} steps = ${totalSteps} steps`);
  console.log(`checkpoints every ${options.saveSteps} steps into ${modelDir}\n`);

  const show = (tag: string) => (line: string) => console.log(`  [${tag}] ${line}`);
  const timeline: { run: number; launch: Launch; how: string }[] = [];
  const interruptions = Number(options.interruptions);
  // Spread the interruptions over the run: each launch runs a random number of steps, up to its share.
  const share = Math.ceil(totalSteps / (interruptions + 1));
  for (let i = 0; i < interruptions; i++) {
    const afterSteps = 25 + Math.floor(random() * (share - 25));
    const delayMs = Math.floor(random() * 30);
    const signal: NodeJS.Signals = i === 1 ? 'SIGTERM' : 'SIGKILL';
    console.log(`run ${i + 1}: will send ${signal} after ${afterSteps} steps (+${delayMs} ms)`);
    const result = await launch(modelDir, [...trainerArgs, '--out', path.join(work, 'preempted.bin')], { afterSteps, delayMs, signal }, show(`run ${i + 1}`));
    if (result.stderr.trim() !== '') console.log(result.stderr.trim().replace(/^/gm, `  [run ${i + 1}] `));
    const how =
      result.signal !== null
        ? `killed by ${result.signal}`
        : result.sha256 !== null
          ? 'finished'
          : `stopped on SIGTERM, saved, exit ${result.exitCode}`;
    console.log(`run ${i + 1}: steps ${result.firstStep ?? '-'}..${result.lastStep}, ${how} (${result.seconds.toFixed(1)} s)\n`);
    timeline.push({ run: i + 1, launch: result, how });
    if (result.sha256 !== null) break;
  }
  let final = timeline.at(-1)?.launch;
  if (final?.sha256 === null || final === undefined) {
    const run = timeline.length + 1;
    console.log(`run ${run}: restart and let it finish`);
    final = await launch(modelDir, [...trainerArgs, '--out', path.join(work, 'preempted.bin')], null, show(`run ${run}`));
    timeline.push({ run, launch: final, how: 'finished' });
    console.log(`run ${run}: steps ${final.firstStep ?? '-'}..${final.lastStep}, finished (${final.seconds.toFixed(1)} s)\n`);
  }

  console.log('reference: the same job, never interrupted');
  const reference = await launch(path.join(work, 'reference'), [...trainerArgs, '--out', path.join(work, 'reference.bin')], null, show('reference'));

  console.log('\ntimeline');
  console.log('  run | resumed at step | last step | how it ended                                 | seconds');
  for (const { run, launch: l, how } of timeline) {
    const resumed = l.firstStep === null ? '-' : l.firstStep === 1 ? 'start' : String(l.firstStep - 1);
    console.log(`  ${String(run).padStart(3)} | ${resumed.padStart(15)} | ${String(l.lastStep).padStart(9)} | ${how.padEnd(44)} | ${l.seconds.toFixed(1).padStart(7)}`);
  }
  console.log(`  ref | ${'start'.padStart(15)} | ${String(reference.lastStep).padStart(9)} | ${'finished, never interrupted'.padEnd(44)} | ${reference.seconds.toFixed(1).padStart(7)}`);

  const preempted = fs.readFileSync(path.join(work, 'preempted.bin'));
  const uninterrupted = fs.readFileSync(path.join(work, 'reference.bin'));
  const diff = firstDifference(preempted, uninterrupted);
  // What the user saw: every epoch line any interrupted start printed (a start killed after an epoch's line
  // but before its next checkpoint prints that epoch again) must be the reference's line for that epoch.
  const differentEpochLines: string[] = [];
  for (const { run, launch: l } of timeline) {
    for (const [epoch, line] of l.epochLines) {
      if (reference.epochLines.get(epoch) !== line) differentEpochLines.push(`run ${run}: ${line} (reference: ${reference.epochLines.get(epoch)})`);
    }
  }
  const seenEpochs = new Set(timeline.flatMap(({ launch: l }) => [...l.epochLines.keys()]));
  for (const epoch of reference.epochLines.keys()) if (!seenEpochs.has(epoch)) differentEpochLines.push(`epoch ${epoch}: never printed by the interrupted runs`);
  console.log(`\nepoch lines: interrupted runs  ${[...seenEpochs].sort().map((e) => timeline.map(({ launch: l }) => l.epochLines.get(e)).filter((x) => x !== undefined).at(-1)).join(' | ')}`);
  console.log(`             reference         ${[...reference.epochLines.values()].join(' | ')}`);
  if (differentEpochLines.length === 0) {
    console.log(`identical epoch lines: ${reference.epochLines.size} epochs`);
  } else {
    console.log(`DIFFERENT epoch lines:\n  ${differentEpochLines.join('\n  ')}`);
    process.exitCode = 1;
  }
  console.log(`\nfinal weights sha256: interrupted ${final.sha256}`);
  console.log(`                      reference   ${reference.sha256}`);
  if (diff === -1 && final.sha256 === reference.sha256) {
    console.log(`identical: ${preempted.length / 4} float32 weights, bit for bit, after ${timeline.length - 1} interruptions`);
    if (differentEpochLines.length === 0) fs.rmSync(work, { recursive: true, force: true });
  } else {
    console.log(`DIFFERENT: first differing weight #${diff} (files kept in ${work})`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
