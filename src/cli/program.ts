import * as fs from 'fs';
import * as path from 'path';
import { Command, CommanderError } from 'commander';
import { MODEL_INDEX_NAME } from '../checkpoint/model_checkpoint';
import { CheckpointNotFoundError, CorruptCheckpointError, ResumableError } from '../errors';
import { CliIo, ExitCode, ExitCodeValue, JSON_SCHEMA_VERSION, processIo } from './cli_io';
import { runInspect } from './inspect_command';
import { runList } from './list_command';
import { closeStorage, openModelDir } from './locate';
import { runVerify } from './verify_command';

/** package.json sits two levels above both src/cli/ and dist/cli/. */
function packageVersion(): string {
  const raw = fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8');
  return (JSON.parse(raw) as { version: string }).version;
}

const LOCATION_HELP = 'a local directory or s3://bucket/prefix (S3 reads the usual AWS_* environment variables)';

const EXIT_HELP = `
Exit codes: 0 ok, 1 a checkpoint is corrupt, 2 usage error or missing/unreadable path, 3 unexpected error.
`;

/** Runs `fn` on the opened modelDir and always releases it. */
async function withModelDir<T>(dir: string, fn: (storage: ReturnType<typeof openModelDir>) => Promise<T>): Promise<T> {
  const storage = openModelDir(dir);
  try {
    try {
      await storage.list(MODEL_INDEX_NAME);
    } catch (e) {
      // Only a missing root makes a listing fail this way: say what the argument should have been.
      if (e instanceof CheckpointNotFoundError) {
        throw new CheckpointNotFoundError(`${dir} does not exist: expected the modelDir of a tfjs-resumable training run.`);
      }
      throw e;
    }
    return await fn(storage);
  } finally {
    closeStorage(storage);
  }
}

function buildProgram(io: CliIo, setCode: (code: ExitCodeValue) => void): Command {
  const program = new Command('tfjs-resumable')
    .description('Look inside tfjs-resumable checkpoint directories: list, inspect and verify checkpoints.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showSuggestionAfterError(true)
    .addHelpText('after', EXIT_HELP);

  program
    .command('list')
    .description('list the model checkpoints and input-pipeline checkpoints of a modelDir')
    .argument('<modelDir>', LOCATION_HELP)
    .option('--json', 'machine-readable output (fields: schemaVersion, location, modelIndex, modelCheckpoints, inputSeries)')
    .addHelpText('after', EXIT_HELP)
    .action(async (modelDir: string, options: { json?: boolean }) => {
      const { text, code } = await withModelDir(modelDir, (storage) => runList(storage, options.json === true));
      io.stdout(text);
      setCode(code);
    });

  program
    .command('inspect')
    .description(
      'show what a checkpoint holds: state.json, weights with min/max/mean, optimizer state, input pipeline position',
    )
    .argument('<path>', `a model checkpoint directory (.../model.ckpt-<step>), an input checkpoint (.../input.ckpt-<step>) or a modelDir (its latest model checkpoint); ${LOCATION_HELP}`)
    .option('--json', 'machine-readable output (fields: schemaVersion, kind, location, path, then state, weights, optimizer, extras for a model checkpoint or step, sizeBytes, pipelines for an input checkpoint)')
    .addHelpText('after', EXIT_HELP)
    .action(async (target: string, options: { json?: boolean }) => {
      io.stdout(await runInspect(target, options.json === true));
      setCode(ExitCode.ok);
    });

  program
    .command('verify')
    .description('verify every file of every checkpoint (sizes, CRC-32s) and say which checkpoint restore would use')
    .argument('<modelDir>', LOCATION_HELP)
    .option('--json', 'machine-readable output (the list fields plus ok, restore, inputRestore)')
    .addHelpText('after', EXIT_HELP)
    .action(async (modelDir: string, options: { json?: boolean }) => {
      const { text, code } = await withModelDir(modelDir, (storage) => runVerify(storage, options.json === true));
      io.stdout(text);
      setCode(code);
    });
  return program;
}

/** System error codes meaning "this path cannot be read as given": the user's to fix, not a bug (exit 2). */
const PATH_ACCESS_CODES = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

function isPathAccessError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && PATH_ACCESS_CODES.has((e as NodeJS.ErrnoException).code as string);
}

/** An error as `--json` prints it on stdout: `{schemaVersion, error: {exitCode, type, message}}`. */
export interface CliErrorJson {
  schemaVersion: number;
  error: {
    /** The process exit code (see `ExitCode`). */
    exitCode: number;
    /** The error class (`CheckpointNotFoundError`, ...), `UsageError` for a command-line mistake. */
    type: string;
    /** The same sentence the text mode prints. */
    message: string;
  };
}

/** The exit code and one-line message of a failed command, or `null` for an unexpected error (a bug). */
function classify(e: unknown): { code: ExitCodeValue; message: string } | null {
  if (e instanceof CorruptCheckpointError) return { code: ExitCode.corrupt, message: e.message };
  if (e instanceof ResumableError) return { code: ExitCode.usage, message: e.message };
  if (isPathAccessError(e)) {
    return { code: ExitCode.usage, message: `${e.message}: this user cannot read that path; fix its permissions or run as a user who can.` };
  }
  return null;
}

/**
 * The `tfjs-resumable` command line, callable in-process: `argv` are the arguments after the program name
 * (`['list', './runs/mnist', '--json']`). Writes through `io` and resolves to the exit code (see
 * `ExitCode`): expected failures (a wrong or unreadable path, a corrupt checkpoint) print one clear message,
 * only unexpected errors print a stack. With `--json` every error is a `CliErrorJson` document on stdout.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const json = argv.includes('--json');
  let usageText = '';
  // In JSON mode commander's own messages are collected and wrapped instead of printed as text.
  const programIo: CliIo = json ? { stdout: io.stdout, stderr: (t) => void (usageText += t) } : io;
  const fail = (code: ExitCodeValue, type: string, message: string): number => {
    if (json) {
      const doc: CliErrorJson = { schemaVersion: JSON_SCHEMA_VERSION, error: { exitCode: code, type, message } };
      io.stdout(JSON.stringify(doc, null, 2) + '\n');
    } else {
      io.stderr(`error: ${message}\n`);
    }
    return code;
  };
  let code: ExitCodeValue = ExitCode.ok;
  const program = buildProgram(programIo, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed the help, the version or (text mode) its usage error.
      if (e.exitCode === 0) return ExitCode.ok;
      return json ? fail(ExitCode.usage, 'UsageError', usageText.replace(/^error: /, '').trim() || e.message) : ExitCode.usage;
    }
    const known = classify(e);
    if (known !== null) return fail(known.code, (e as Error).constructor.name, known.message);
    if (json) return fail(ExitCode.internal, e instanceof Error ? e.constructor.name : 'Error', `unexpected error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    io.stderr(`unexpected error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return ExitCode.internal;
  }
}
