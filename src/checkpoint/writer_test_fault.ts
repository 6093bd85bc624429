import { InvalidArgumentError } from '../errors';
import { MODEL_INDEX_NAME } from './model_checkpoint';
import { FencedStorage } from './fenced_storage';
import type { CheckpointStorage } from './storage';
import { WRITER_TEST_FAULT_ENV } from './writer_messages';

/** A failure of the writer's worker thread that tests provoke on purpose (see `WRITER_TEST_FAULT_ENV`). */
interface WriterTestFault {
  how: 'exit' | 'throw';
  /** Which write of the model index fails (1: the first). */
  atIndexWrite: number;
}

function parseTestFault(value: string): WriterTestFault {
  const match = /^(exit|throw)-before-index:([1-9]\d*)$/.exec(value);
  if (match === null) {
    throw new InvalidArgumentError(
      `${WRITER_TEST_FAULT_ENV} must be exit-before-index:N or throw-before-index:N (N >= 1), got ${JSON.stringify(value)}.`,
    );
  }
  return { how: match[1] as WriterTestFault['how'], atIndexWrite: Number(match[2]) };
}

/**
 * The worker's fenced storage, failing the worker just before its N-th model index write: that save's
 * files are on disk but it is not marked latest, the worst moment for a writer to die.
 */
class FaultBeforeIndexStorage extends FencedStorage {
  private indexWrites = 0;

  constructor(
    inner: CheckpointStorage,
    private readonly fault: WriterTestFault,
  ) {
    super(inner);
  }

  override async writeAtomic(relPath: string, data: Uint8Array): Promise<void> {
    if (relPath === MODEL_INDEX_NAME && ++this.indexWrites === this.fault.atIndexWrite) {
      if (this.fault.how === 'exit') process.exit(1);
      // Outside the write's promise chain, so nothing catches it: the worker thread dies of it.
      setImmediate(() => {
        throw new Error(`${WRITER_TEST_FAULT_ENV}: injected failure before model index write ${this.fault.atIndexWrite}`);
      });
      await new Promise<never>(() => undefined);
    }
    await super.writeAtomic(relPath, data);
  }
}

/** The worker's storage: fenced, and failing as `testFault` asks when it is set. */
export function workerStorage(inner: CheckpointStorage, testFault: string | undefined): FencedStorage {
  return testFault === undefined || testFault === '' ? new FencedStorage(inner) : new FaultBeforeIndexStorage(inner, parseTestFault(testFault));
}
