import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as data from '../../src/data';
import type { DatasetState } from '../../src/data';
import { ResumableError } from '../../src/errors';

const build = (bufferSize = 100, seed = 7) => data.range(0, 300).map((x) => x + 1).shuffle(bufferSize, seed).batch(4);

async function savedAfter(n: number): Promise<DatasetState> {
  const ds = build();
  const it = await ds.iterator();
  for (let i = 0; i < n; i++) tf.dispose((await it.next()).value);
  return ds.saveState();
}

describe('bad states are refused with typed errors and change nothing', () => {
  beforeAll(() => tf.setBackend('cpu'));

  it('a different pipeline: PipelineMismatchError naming the first differing op', async () => {
    const state = await savedAfter(3);
    const other = build(50);
    expect(() => other.restoreState(state)).toThrow(
      new data.PipelineMismatchError(
        'The saved state belongs to a different pipeline: op 1: expected shuffle(bufferSize=50, seed=7, reshuffleEachIteration=true), ' +
          'state has shuffle(bufferSize=100, seed=7, reshuffleEachIteration=true). Rebuild the pipeline exactly as when the state was saved.',
      ),
    );
    expect(() => data.range(0, 301).map((x) => x + 1).shuffle(100, 7).batch(4).restoreState(state)).toThrow(/op 3: expected range\(start=0, end=301, step=1\), state has range\(start=0, end=300, step=1\)/);
    // Same length, other values: the in-memory content message, naming both hashes.
    const now = (JSON.parse(data.array([1, 2, 3]).fingerprint()) as string[])[0];
    expect(now).toMatch(/^array\(length=3, crc32=[0-9a-f]{8}\)$/);
    expect(() => data.array([1, 2, 3]).restoreState({ ...state, fingerprint: JSON.stringify(['array(length=3, crc32=00000000)']) })).toThrow(
      new data.PipelineMismatchError(
        `The saved state belongs to other data: op 0 reads in-memory values that changed since the state was saved (hash 00000000 then, ` +
          `${now.slice('array(length=3, crc32='.length, -1)} now), so its saved positions would point at other elements: ${now}. ` +
          'Pass the same values, or build the source with { verifyContent: false } if they change between runs on purpose.',
      ),
    );
  });

  it('a newer formatVersion: StateFormatError', async () => {
    const state = await savedAfter(1);
    expect(() => build().restoreState({ ...state, formatVersion: 3 })).toThrow(
      new data.StateFormatError('Dataset state has formatVersion 3, newer than 2 understood here; upgrade tfjs-resumable.'),
    );
  });

  it('malformed fields: StateFormatError with the path, before anything changes', async () => {
    const state = await savedAfter(5);
    const it = state.iterator as { upstream: { rng: Record<string, number>; exhausted: boolean; buffer: { keys: string }; upstream: { upstream: { cursor: number } } } };
    const rng0 = (state.dataset as { rngs: Record<string, number>[] }).rngs[0];
    const keysWith = (first: number): string => {
      const keys = new Uint32Array(new Uint8Array(Buffer.from(it.upstream.buffer.keys, 'base64')).buffer);
      keys[0] = first;
      return Buffer.from(keys.buffer).toString('base64');
    };
    const variants: [string, DatasetState, RegExp][] = [
      ['negative cursor', { ...state, iterator: { upstream: { ...it.upstream, upstream: { upstream: { cursor: -1 } } } } }, /iterator\.upstream\.upstream\.upstream\.cursor: expected an integer >= 0, got -1/],
      ['cursor past the end', { ...state, iterator: { upstream: { ...it.upstream, upstream: { upstream: { cursor: 301 } } } } }, /cursor: 301 is past the end of a source of 300 elements/],
      ['NaN in the RNG', { ...state, iterator: { upstream: { ...it.upstream, rng: { ...it.upstream.rng, s0: NaN } } } }, /iterator\.upstream\.rng\.s0: expected a number in \[0, 1\) that is a multiple of 2\^-32, got null/],
      ['missing field', { ...state, iterator: { upstream: { ...it.upstream, exhausted: undefined as unknown as boolean } } }, /iterator\.upstream\.exhausted: expected a boolean, got nothing \(missing field\)/],
      ['wrong type', { ...state, dataset: { rngs: 'x' } }, /dataset\.rngs: expected an array, got "x"/],
      ['a blob in a format-2 state', { ...state, blob: new Uint8Array(4) }, /^blob: format 2 states carry no blob/],
      ['keys that are not base64', { ...state, iterator: { upstream: { ...it.upstream, buffer: { keys: 'AAA*' } } } }, /iterator\.upstream\.buffer\.keys: expected a base64 string, got a string of 4 characters that is not base64/],
      ['a buffered key past the source', { ...state, iterator: { upstream: { ...it.upstream, buffer: { keys: keysWith(301) } } } }, /iterator\.upstream\.buffer: buffered element 0 is at source position 300, outside a source of 300/],
      // Issue 14: alea can never produce these; they were accepted and gave another order, or a TypeError in next().
      ['a negative dataset RNG carry', { ...state, dataset: { rngs: [{ ...rng0, c: -5 }] } }, /^dataset\.rngs\[0\]\.c: expected an integer in \[0, 2091639\) \(alea's carry\), got -5$/],
      ['a huge iterator RNG carry', { ...state, iterator: { upstream: { ...it.upstream, rng: { ...it.upstream.rng, c: 1e300 } } } }, /^iterator\.upstream\.rng\.c: expected an integer in \[0, 2091639\) \(alea's carry\), got 1e\+300$/],
      ['an RNG value alea cannot hold', { ...state, iterator: { upstream: { ...it.upstream, rng: { ...it.upstream.rng, s1: 0.5 + 2 ** -40 } } } }, /^iterator\.upstream\.rng\.s1: expected a number in \[0, 1\) that is a multiple of 2\^-32, got 0\.5000000000009095$/],
    ];
    for (const [what, bad, message] of variants) {
      const ds = build();
      const live = await ds.iterator();
      for (let i = 0; i < 2; i++) tf.dispose((await live.next()).value);
      const before = ds.saveState();
      let thrown: unknown;
      try {
        ds.restoreState(bad);
      } catch (e) {
        thrown = e;
      }
      expect({ what, isStateFormatError: thrown instanceof data.StateFormatError, isResumable: thrown instanceof ResumableError }).toEqual({ what, isStateFormatError: true, isResumable: true });
      expect((thrown as Error).message).toMatch(message);
      expect(ds.saveState()).toEqual(before);
      // And it still iterates exactly as an untouched pipeline would.
      const reference = build();
      const refIt = await reference.iterator();
      for (let i = 0; i < 2; i++) tf.dispose((await refIt.next()).value);
      const plainBatches = async (x: { toArray(): Promise<unknown[]> }) => ((await x.toArray()) as tf.Tensor[]).map((t) => t.arraySync());
      expect(await plainBatches(live)).toEqual(await plainBatches(refIt));
    }
  });

  // Issue 14: every numeric field is checked before anything is applied.
  async function expectRefused<T extends tf.TensorContainer>(
    make: () => data.CheckpointableDataset<T>,
    read: number,
    edit: (state: DatasetState) => DatasetState,
    message: string,
  ): Promise<void> {
    const source = make();
    const it = await source.iterator();
    for (let i = 0; i < read; i++) tf.dispose((await it.next()).value as tf.TensorContainer);
    const bad = edit(JSON.parse(JSON.stringify(source.saveState())) as DatasetState);
    const target = make();
    await target.iterator();
    const before = target.saveState();
    expect(() => target.restoreState(bad)).toThrow(new data.StateFormatError(message));
    expect(target.saveState()).toEqual(before);
  }

  it('counters beyond what their op can reach, a non-boolean end flag and a mid-line offset are refused', async () => {
    await expectRefused(() => data.range(0, 20).take(5), 2, (s) => ({ ...s, iterator: { taken: 6, upstream: { cursor: 2 } } }),
      'iterator.taken: 6 exceeds 5, the most take(count=5) can reach');
    await expectRefused(() => data.range(0, 20).skip(3), 2, (s) => ({ ...s, iterator: { skipped: 4, upstream: { cursor: 5 } } }),
      'iterator.skipped: 4 exceeds 3, the most skip(count=3) can reach');
    await expectRefused(() => data.generator(() => [1, 2, 3][Symbol.iterator]()), 1, (s) => ({ ...s, iterator: { delivered: 1, ended: 'no' } }),
      'iterator.ended: expected a boolean, got "no"');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-bad-'));
    try {
      const file = path.join(dir, 'lines.txt');
      fs.writeFileSync(file, 'alpha\nbeta\ngamma\n');
      await expectRefused(() => data.textLines(file), 1, (s) => ({ ...s, iterator: { offset: 8 } }),
        `iterator.offset: byte 8 of ${file} is inside a line, not at the start of one`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('corrupted or truncated encoded bytes: StateFormatError', async () => {
    const bytes = data.encodeDatasetState(await savedAfter(2));
    const flipped = bytes.slice();
    flipped[20] ^= 1;
    expect(() => data.decodeDatasetState(flipped)).toThrow(/checksum mismatch .*: truncated or corrupted/);
    expect(() => data.decodeDatasetState(bytes.subarray(0, bytes.length - 3))).toThrow(data.StateFormatError);
    expect(() => data.decodeDatasetState(new Uint8Array([1, 2, 3]))).toThrow('Not a valid encoded dataset state: only 3 bytes');
  });
});
