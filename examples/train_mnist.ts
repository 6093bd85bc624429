/**
 * One training process of the preemption demo (also usable alone):
 *
 *   npx tsx examples/train_mnist.ts --model-dir /tmp/mnist-run [--epochs 3] [--save-steps 20] [--out weights.bin]
 *                                   [--lock-wait-ms 120000]
 *
 * Every option can also come from the environment (MODEL_DIR, EPOCHS, SAVE_STEPS, LOCK_WAIT_MS, BACKEND),
 * as a Kubernetes Job passes them (examples/kubernetes/). `--lock-wait-ms` lets a replacement job started
 * while the previous one still writes its final checkpoint wait for it, then resume from that checkpoint.
 *
 * Trains the MLP on real mnist digits with `resumableFit`: it restores the latest checkpoint of
 * `--model-dir` (weights, Adam state, global step, exact data position), continues from the next batch,
 * checkpoints every `--save-steps` steps, and stops cleanly on SIGTERM/SIGINT: it saves, then exits with
 * status 143 (130 for SIGINT) so a scheduler restarts it. Kill it at any point (even kill -9) and start it
 * again: it continues as if never interrupted.
 *
 * Output for the parent demo: `step <n>` after every step, `saved <n>` once the checkpoint of step n is
 * durable, `epoch <e> loss=.. acc=..` after every epoch, and `done <sha256 of the final weights>` at the end.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import {
  CheckpointSaverListener,
  resumableFit,
  SessionRunHook,
  useFastestBackend,
  type SessionRunContext,
  type TrainingSession,
} from '../src';
import { loadDigits } from './mnist_data';
import { digitTensors, mnistModel, trainingDataset } from './mnist_model';

/** Reports every completed step on stdout (the demo parent watches these lines). */
class StepReporter extends SessionRunHook {
  override afterRun(ctx: SessionRunContext): void {
    process.stdout.write(`step ${ctx.session.globalStep}\n`);
  }
}

/** Reports every durable checkpoint: what a restart will resume from at the latest. */
class SaveReporter extends CheckpointSaverListener {
  override afterSave(_session: TrainingSession, globalStep: number): void {
    process.stdout.write(`saved ${globalStep}\n`);
  }
}

/** All weights of the model as one byte string, in layer order: what "bit for bit" compares. */
export function weightBytes(model: tf.LayersModel): Buffer {
  return Buffer.concat(model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer)));
}

async function main(): Promise<void> {
  const env = process.env;
  const options = new Command()
    .option('--model-dir <dir>', 'checkpoint directory (local path or s3://bucket/prefix); env MODEL_DIR', env.MODEL_DIR)
    .option('--epochs <n>', 'epochs to train; env EPOCHS', env.EPOCHS ?? '3')
    .option('--save-steps <n>', 'checkpoint every n steps; env SAVE_STEPS', env.SAVE_STEPS ?? '20')
    .option('--lock-wait-ms <ms>', 'wait this long for a previous job to release the modelDir; env LOCK_WAIT_MS', env.LOCK_WAIT_MS ?? '0')
    .option('--out <file>', 'write the final weights here')
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: fastest that loads); env BACKEND', env.BACKEND)
    .parse()
    .opts<{
      modelDir?: string;
      epochs: string;
      saveSteps: string;
      lockWaitMs: string;
      out?: string;
      backend?: 'tensorflow' | 'wasm' | 'cpu';
    }>();
  if (options.modelDir === undefined || options.modelDir === '') {
    throw new Error('No checkpoint directory: pass --model-dir <dir> or set MODEL_DIR (a path or s3://bucket/prefix).');
  }

  const backend = await useFastestBackend(options.backend !== undefined ? { candidates: [options.backend] } : {});
  const { train, test } = loadDigits({ trainCount: 2000, testCount: 500 });
  const model = mnistModel();
  const epochs = Number(options.epochs);
  const result = await resumableFit(
    model,
    trainingDataset(train),
    {
      epochs,
      verbose: 0,
      callbacks: [
        new tf.CustomCallback({
          onEpochEnd: async (epoch, logs) => {
            process.stdout.write(`epoch ${epoch + 1}/${epochs} loss=${logs?.loss.toFixed(4)} acc=${logs?.acc.toFixed(4)}\n`);
          },
        }),
      ],
    },
    {
      modelDir: options.modelDir,
      saveSteps: Number(options.saveSteps),
      lockWaitMs: Number(options.lockWaitMs),
      hooks: [new StepReporter()],
      listeners: [new SaveReporter()],
    },
  );
  if (result.restoredFrom !== null) {
    const { globalStep, position } = result.restoredFrom;
    process.stdout.write(`resumed from step ${globalStep} (epoch ${position.epoch + 1}, batch ${position.stepInEpoch})\n`);
  }
  if (!result.completed) {
    // Only a hook's stop request gets here: on SIGTERM resumableFit has already exited with status 143.
    process.stdout.write(`stopped at step ${result.globalStep} by a hook; checkpoint saved\n`);
    process.exitCode = 3;
    return;
  }
  const { xs, ys } = digitTensors(test);
  const [, accuracy] = model.evaluate(xs, ys) as tf.Scalar[];
  const bytes = weightBytes(model);
  if (options.out !== undefined) {
    fs.writeFileSync(`${options.out}.tmp`, bytes);
    fs.renameSync(`${options.out}.tmp`, options.out);
  }
  process.stdout.write(`backend ${backend.backend}, test accuracy ${(await accuracy.data())[0].toFixed(4)}\n`);
  process.stdout.write(`done ${crypto.createHash('sha256').update(bytes).digest('hex')}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
