import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../checkpoint/helpers';

// What a user gets from the registry: `npm pack` (prepack builds dist/), then `npm install` of the tarball
// and @tensorflow/tfjs into a new app, whose ESM and CommonJS programs train, are killed, and resume.
// Slow by nature (a tsc build and an npm install): one pack and one install serve every test below.
jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const TOTAL_STEPS = 640; // 40 epochs of 16 batches, in the fixtures

interface PackedFile {
  path: string;
}
interface PackResult {
  filename: string;
  size: number;
  files: PackedFile[];
}
interface RunResult {
  restoredFrom: number | null;
  globalStep: number;
  weights: string[];
}

let packed: PackResult;
let app: string;

/**
 * npm install, offline first (a machine that has installed these before needs no network), falling back
 * to --prefer-offline, which reads the cache and asks the registry only for what it lacks.
 */
function npmInstall(cwd: string): void {
  const common = ['install', '--no-audit', '--no-fund', '--loglevel=error'];
  const offline = spawnSync('npm', [...common, '--offline'], { cwd, encoding: 'utf8' });
  if (offline.status === 0) return;
  execFileSync('npm', [...common, '--prefer-offline'], { cwd, encoding: 'utf8', stdio: 'pipe' });
}

beforeAll(() => {
  const packDir = tempDir('pack');
  const json = execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // prepack's build output comes first on stdout; the JSON report is the last thing printed.
  packed = (JSON.parse(json.slice(json.lastIndexOf('\n[') + 1)) as PackResult[])[0];

  app = tempDir('app');
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'user-app',
      version: '1.0.0',
      private: true,
      dependencies: { [PKG.name]: `file:${path.join(packDir, packed.filename)}`, '@tensorflow/tfjs': '4.22.0' },
    }),
  );
  for (const script of ['train.mjs', 'train.cjs']) fs.copyFileSync(path.join(__dirname, 'fixtures', script), path.join(app, script));
  npmInstall(app);
});

afterAll(() => {
  if (app !== undefined) fs.rmSync(app, { recursive: true, force: true });
});

/** Runs a program of the app to the end; returns its result line. */
function runToEnd(script: string, modelDir: string): RunResult {
  const child = spawnSync(process.execPath, [script, modelDir], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  expect({ status: child.status, stderr: child.stderr.includes('Error') ? child.stderr : '' }).toEqual({ status: 0, stderr: '' });
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as RunResult;
}

/**
 * Starts a program of the app and SIGKILLs it as soon as it reports a durable checkpoint past the first
 * (the saver writes one at step 1, then every 5 steps: 6, 11, ...); returns that step.
 */
function runAndKill(script: string, modelDir: string): Promise<{ signal: NodeJS.Signals | null; stdout: string; durable: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, modelDir], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let durable = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const saved = [...stdout.matchAll(/^saved (\d+)$/gm)].map((m) => Number(m[1]));
      if (durable === 0 && saved.some((step) => step > 1)) {
        durable = Math.max(...saved);
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ signal, stdout, durable }));
  });
}

describe('the packed tarball', () => {
  it('holds the built code with its typings, the license and the docs, and no source maps', () => {
    const sources = fs.readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const built = sources.flatMap((f) => [f.replace(/\.ts$/, '.js'), f.replace(/\.ts$/, '.d.ts')].map((g) => `dist/${g}`));
    const expected = [...built, 'CHANGELOG.md', 'LICENSE', 'README.md', 'package.json'].sort();
    expect(packed.files.map((f) => f.path).sort()).toEqual(expected);
    expect(fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^ {33}Apache License\n {27}Version 2\.0, January 2004\n/);
  });

  it('installs with @tensorflow/tfjs; ESM named imports match the CommonJS exports', () => {
    const cjs = execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(Object.keys(require('${PKG.name}')).sort()))`], { cwd: app, encoding: 'utf8' });
    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import('${PKG.name}'); console.log(JSON.stringify(Object.keys(m).filter((k) => !['default', 'module.exports', '__esModule'].includes(k)).sort()))`],
      { cwd: app, encoding: 'utf8' },
    );
    // Node's ESM view of a CommonJS module adds `default` (and `__esModule` when the module sets it).
    const names = (JSON.parse(cjs) as string[]).filter((k) => k !== '__esModule');
    expect(names).toEqual(expect.arrayContaining(['resumableFit', 'data', 'Estimator', 'useFastestBackend', 'checkDeterminism', 'CheckpointSaverListener']));
    expect(JSON.parse(esm)).toEqual(names);
    const version = execFileSync(process.execPath, ['-e', `console.log(require('${PKG.name}/package.json').version)`], { cwd: app, encoding: 'utf8' });
    expect(version.trim()).toBe(PKG.version);
  });

  it('a CommonJS program trains to the end; an ESM one, killed with SIGKILL and rerun, ends bit for bit the same', async () => {
    const reference = runToEnd('train.cjs', tempDir('app-cjs'));
    expect([reference.restoredFrom, reference.globalStep]).toEqual([null, TOTAL_STEPS]);

    const modelDir = tempDir('app-esm');
    const killed = await runAndKill('train.mjs', modelDir);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('globalStep'); // it never reached its end
    const resumed = runToEnd('train.mjs', modelDir);
    // From the newest durable checkpoint: the one reported, or one that became durable in the kill's few ms.
    expect(resumed.restoredFrom).toBeGreaterThanOrEqual(killed.durable);
    expect(resumed.restoredFrom).toBeLessThan(TOTAL_STEPS);
    expect((resumed.restoredFrom! - 1) % 5).toBe(0);
    expect(resumed.globalStep).toBe(TOTAL_STEPS);
    expect(resumed.weights).toEqual(reference.weights);

    // The installed CLI reads the same directory.
    const listed = spawnSync(path.join(app, 'node_modules', '.bin', 'tfjs-resumable'), ['list', modelDir, '--json'], { encoding: 'utf8' });
    expect(listed.status).toBe(0);
    const report = JSON.parse(listed.stdout) as { modelCheckpoints: { step: number; latest: boolean }[] };
    expect(report.modelCheckpoints.filter((c) => c.latest).map((c) => c.step)).toEqual([TOTAL_STEPS]);
  });
});
