/**
 * kill -9 on S3, the way a user runs it: the training child (test/fixtures/crash_child.ts) gets the modelDir
 * string `s3://<bucket>/kill9/seed-N` and reaches s3rver on 127.0.0.1 only through the documented environment
 * variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). It is SIGKILLed 1–3 times per seed at
 * seeded random points and restarted until it finishes. After every kill the parent, with the same string, checks
 * that every indexed checkpoint on the server verifies and that `restoreLatest` restores at least the newest step
 * the child acknowledged; every restart resumes from exactly that step. At the end: the weights equal an
 * uninterrupted run bit for bit (sha256), the server holds the checkpoint objects, and no checkpoint file was
 * written to local disk (the seed's folder holds only the weights file, the working directory is unchanged).
 *
 * Seeds: 5 in `npm test`; `CHAOS_SEEDS=N` (set by `npm run test:chaos`) runs seeds 1..N; `CHAOS_SEED=S` only S.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import seedrandom from 'seedrandom';
import { CheckpointNotFoundError, restoreLatest, verifyCheckpoints, type types } from '../../src';
import { RecordingLogger } from '../checkpoint/helpers';
import { CRASH_CONFIGS, buildCrashModel, totalSteps, type CrashConfig } from '../fixtures/crash_model';
import { TaskPool, runToCompletion, runWithKills, type KillRecord } from '../helpers/crash_harness';
import { s3EnvFor, setProcessEnv, startS3Server, type TestS3Server } from '../helpers/s3_server';
import { childArgs, doneSha, numbersOf, resumedStep, selectedSeeds } from '../helpers/crash_child_io';
import { useTestBackend } from '../helpers/test_backend';

const CHILD = path.resolve(__dirname, '..', 'fixtures', 'crash_child.ts');
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** An S3 checkpoint write to s3rver takes tens of ms: delays up to this put kills inside one. */
const MAX_DELAY_MS = 80;
const pool = new TaskPool(2);

let server: TestS3Server;
/** What the user exports, for the children and for this process's own checks. */
let s3Env: NodeJS.ProcessEnv;
let restoreEnv: (() => void) | undefined;
const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-kill9-s3-'));
const repoBefore = fs.readdirSync(REPO_ROOT).sort();

/** Uninterrupted reference runs (local modelDir: where checkpoints go does not change the bits). */
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

/** After a kill: indexed checkpoints on the server verify; restoreLatest restores at least the acknowledged step. */
async function checkAfterKill(modelDir: string, acknowledged: number): Promise<number> {
  let infos: types.CheckpointInfo[];
  try {
    infos = await verifyCheckpoints(modelDir);
  } catch (e) {
    if (!(e instanceof CheckpointNotFoundError)) throw e;
    infos = [];
  }
  expect(infos.filter((i) => i.inIndex && i.status !== 'ok')).toEqual([]);
  const model = buildCrashModel();
  try {
    const logger = new RecordingLogger();
    const restored = await restoreLatest(model, modelDir, { logger });
    const step = restored?.globalStep ?? 0;
    const latest = infos.find((i) => i.inIndex && i.latest);
    // With an index on the server, its latest entry is restored without any fallback.
    if (latest !== undefined) expect({ restored: restored?.path, warnings: logger.warnings }).toEqual({ restored: latest.path, warnings: [] });
    if (step < acknowledged) {
      throw new Error(`acknowledged checkpoint lost: the child reported "saved ${acknowledged}" but the latest restorable step is ${step}`);
    }
    return step;
  } finally {
    model.dispose();
  }
}

/** The checkpoints on the server that verify, read through the same modelDir string the child got. */
async function checkpointObjects(modelDir: string): Promise<string[]> {
  return (await verifyCheckpoints(modelDir)).filter((i) => i.status === 'ok').map((i) => i.path);
}

interface SeedResult {
  line: string;
  failure?: Error;
}

async function runSeed(seed: number): Promise<SeedResult> {
  const config = CRASH_CONFIGS[seed % CRASH_CONFIGS.length];
  const dir = path.join(tempRoot, `seed-${seed}`);
  fs.mkdirSync(dir, { recursive: true });
  const modelDir = `s3://${server.bucket}/kill9/seed-${seed}`;
  const outFile = path.join(dir, 'weights.bin');
  const kills: KillRecord[] = [];
  const restoredSteps: number[] = [];
  const describe = (): string =>
    `${config.name}, kills after steps [${kills.filter((k) => !k.childFinishedFirst).map((k) => `${k.afterStep}+${k.delayMs}ms`).join(', ')}], ` +
    `resumed from [${restoredSteps.join(', ')}]`;
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
      env: s3Env,
      afterKill: async (kill, killed) => {
        kills.push(kill);
        acknowledged = Math.max(acknowledged, ...numbersOf('saved', killed.stdout));
        restoredSteps.push(await checkAfterKill(modelDir, acknowledged));
      },
    });
    kills.push(...run.kills.filter((k) => k.childFinishedFirst));
    expect(run.launches.map(resumedStep)).toEqual([0, ...restoredSteps]);
    const sha = doneSha(run.final);
    expect(createHash('sha256').update(fs.readFileSync(outFile)).digest('hex')).toBe(sha);
    if (sha !== reference) throw new Error(`final weights differ from the uninterrupted run: sha256 ${sha}, reference ${reference}`);
    // The server holds the final checkpoint; the local folder holds only the weights file the child wrote.
    expect(await checkpointObjects(modelDir)).toContain(`model.ckpt-${totalSteps(config)}`);
    // (A child killed inside its final write may leave its weights temp file: that is not a checkpoint.)
    expect(fs.readdirSync(dir).filter((f) => !/^weights\.bin(\.tmp-\d+)?$/.test(f))).toEqual([]);
    expect(fs.existsSync(outFile)).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
    return { line: `s3 seed ${seed}: ${describe()}, final sha256 equal` };
  } catch (e) {
    const cause = e instanceof Error ? e : new Error(String(e));
    const failure = new Error(
      `kill -9 on s3 seed ${seed} (${describe()}; files kept in ${dir}) failed: ${cause.message}\n` +
        `Re-run just this seed: CHAOS_SEED=${seed} npx jest test/reliability/kill9_s3`,
    );
    failure.stack = `${failure.message}\n${cause.stack ?? ''}`;
    return { line: `s3 seed ${seed}: FAILED (${describe()})`, failure };
  }
}

const seeds = selectedSeeds(5);
const results = new Map<number, Promise<SeedResult>>();
function resultOf(seed: number): Promise<SeedResult> {
  if (results.size === 0) for (const s of seeds) results.set(s, pool.run(() => runSeed(s)));
  return results.get(seed) as Promise<SeedResult>;
}
const lines: string[] = [];
let passed = 0;
const startedAt = process.hrtime.bigint();

beforeAll(async () => {
  await useTestBackend();
  server = await startS3Server();
  s3Env = s3EnvFor(server);
  // The parent's own checks open the same s3:// string, so they read the same variables.
  restoreEnv = setProcessEnv(s3Env);
});

afterAll(async () => {
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  console.log([...lines, `kill -9 on s3: ${seeds.length} seeds tried, ${passed} passed (${seconds.toFixed(1)} s)`].join('\n'));
  restoreEnv?.();
  await server?.stop();
  if (passed === seeds.length) fs.rmSync(tempRoot, { recursive: true, force: true });
});

describe('kill -9 with an s3:// modelDir: the resumed run equals the uninterrupted run, checkpoints only on the server', () => {
  it.each(seeds)(
    'seed %i',
    async (seed) => {
      const result = await resultOf(seed);
      lines.push(result.line);
      if (result.failure !== undefined) throw result.failure;
      passed++;
    },
    240_000,
  );

  it('nothing was written to the working directory', async () => {
    await Promise.all(seeds.map(resultOf));
    expect(fs.readdirSync(REPO_ROOT).sort()).toEqual(repoBefore);
  });
});
