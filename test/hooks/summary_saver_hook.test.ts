/**
 * SummarySaverHook where @tensorflow/tfjs-node does not load (this file makes it fail the way a missing
 * package does, so the outcome is the same whether or not it is in node_modules), and its argument checks.
 * The event files it writes are tested in test/tfjs_node/summary_saver_hook.test.ts.
 */
import { InvalidArgumentError, SummarySaverHook, TfjsNodeRequiredError } from '../../src';

const NOT_LOADING = "Cannot find module '@tensorflow/tfjs-node'";
jest.mock(
  '@tensorflow/tfjs-node',
  () => {
    throw new Error(`${NOT_LOADING}\nRequire stack:\n- src/hooks/summary_saver_hook.ts`);
  },
  { virtual: true },
);

describe('SummarySaverHook without tfjs-node', () => {
  it('throws TfjsNodeRequiredError saying what to install', () => {
    const build = () => new SummarySaverHook({ outputDir: 'logs', saveSteps: 10 });
    expect(build).toThrow(TfjsNodeRequiredError);
    expect(build).toThrow(
      new TfjsNodeRequiredError(
        'SummarySaverHook writes TensorBoard event files through @tensorflow/tfjs-node, which does not load here ' +
          `(${NOT_LOADING}). Install it: npm install @tensorflow/tfjs-node (the README's "Backends" section says ` +
          'how where its download host is unreachable).',
      ),
    );
  });

  it('checks its arguments before looking for tfjs-node', () => {
    expect(() => new SummarySaverHook({ outputDir: 'logs' })).toThrow(
      new InvalidArgumentError('SummarySaverHook needs exactly one of saveSteps and saveSecs (got neither).'),
    );
    expect(() => new SummarySaverHook({ outputDir: 'logs', saveSteps: 1, saveSecs: 1 })).toThrow(
      new InvalidArgumentError('SummarySaverHook needs exactly one of saveSteps and saveSecs (got both).'),
    );
    expect(() => new SummarySaverHook({ outputDir: 'logs', saveSteps: 0 })).toThrow(
      new InvalidArgumentError('SummarySaverHook: saveSteps must be a positive integer number of steps, got 0.'),
    );
    expect(() => new SummarySaverHook({ outputDir: 's3://bucket/logs', saveSteps: 1 })).toThrow(
      new InvalidArgumentError(
        "SummarySaverHook: outputDir s3://bucket/logs is not a local directory; TensorFlow's event file writer " +
          'writes local files only. Give a path (and copy the event files to the bucket if needed).',
      ),
    );
  });
});
