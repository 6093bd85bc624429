/**
 * The fingerprint of an in-memory source covers its values (issue 10, Bad input): `data.array` and
 * `data.tensorSlices` over other values of the same length refuse a saved state with `PipelineMismatchError`
 * naming the op and both hashes; the same values (a fresh copy, as a new process builds them) restore;
 * `{ verifyContent: false }` restores on purpose; states written before values were hashed still restore.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';

const { PipelineMismatchError } = data;

beforeAll(() => tf.setBackend('cpu'));

/** Pull `n` elements, then the state as a JS user persists it (through JSON). */
async function stateAfter<T extends tf.TensorContainer>(ds: data.CheckpointableDataset<T>, n: number): Promise<data.DatasetState> {
  const it = await ds.iterator();
  for (let i = 0; i < n; i++) await it.next();
  return JSON.parse(JSON.stringify(ds.saveState())) as data.DatasetState;
}

/** The value hash of the in-memory source op of a fingerprint. */
function hashIn(fingerprint: string): string {
  const match = /(?:content|crc32)=([^,)\\]+)\)"\]$/.exec(fingerprint);
  if (match === null) throw new Error(`no value hash in ${fingerprint}`);
  return match[1];
}

/** The description of the last op (the source) of a fingerprint. */
function sourceOp(fingerprint: string): string {
  const ops = JSON.parse(fingerprint) as string[];
  return ops[ops.length - 1];
}

function refusal(op: number, then: string, now: data.CheckpointableDataset<tf.TensorContainer>): Error {
  return new PipelineMismatchError(
    `The saved state belongs to other data: op ${op} reads in-memory values that changed since the state was saved ` +
      `(hash ${then} then, ${hashIn(now.fingerprint())} now), so its saved positions would point at other elements: ` +
      `${sourceOp(now.fingerprint())}. Pass the same values, or build the source with { verifyContent: false } if ` +
      'they change between runs on purpose.',
  );
}

/** Elements with every tensor (also inside records) read out as nested arrays. */
async function values(ds: data.CheckpointableDataset<tf.TensorContainer>): Promise<unknown[]> {
  const plain = (e: unknown): unknown =>
    e instanceof tf.Tensor
      ? e.arraySync()
      : e !== null && typeof e === 'object'
        ? Object.fromEntries(Object.entries(e).map(([k, v]) => [k, plain(v)]))
        : e;
  return (await ds.toArray()).map(plain);
}

describe('data.array of records', () => {
  const records = (offset: number) => Array.from({ length: 12 }, (_, i) => ({ id: i + offset, label: `r${i}` }));
  const build = (items: { id: number; label: string }[], options?: { verifyContent?: boolean }) =>
    data.array(items, options).shuffle(4, 'content').batch(2);

  it('same length, other values: refused naming the op and both hashes', async () => {
    const state = await stateAfter(build(records(0)), 2);
    const edited = records(0);
    edited[9] = { id: 99, label: 'r9' };
    const changed = build(edited);
    expect(() => changed.restoreState(state)).toThrow(refusal(2, hashIn(state.fingerprint), changed));
    expect(() => changed.restoreState(state)).toThrow(PipelineMismatchError);
    expect(hashIn(state.fingerprint)).toMatch(/^sha256:[0-9a-f]{32}$/);
  });

  it('the same values in a fresh array restore exactly; verifyContent: false resumes over other values', async () => {
    const full = (await values(build(records(0)))) as { id: number[]; label: string[] }[];
    const state = await stateAfter(build(records(0)), 2);
    const resumed = build(records(0));
    resumed.restoreState(state);
    expect(await values(resumed)).toEqual(full.slice(2));

    // Opted out: the same positions, now over the new values (ids + 1000).
    const optedOut = build(records(1000), { verifyContent: false });
    optedOut.restoreState(state);
    expect(await values(optedOut)).toEqual(full.slice(2).map((b) => ({ id: b.id.map((id) => id + 1000), label: b.label })));
  });
});

describe('data.array of records with feature vectors (number arrays hashed by their bytes)', () => {
  const source = (features: (i: number) => unknown[]) => Array.from({ length: 6 }, (_, i) => ({ id: i, features: features(i) }));
  const hashOf = (items: unknown[]) => hashIn(data.array(items as tf.TensorContainer[]).fingerprint());

  it('one changed number, numbers as strings, nested or shorter vectors: each is another hash; a fresh copy the same', () => {
    const base = hashOf(source((i) => [i, i + 0.5, -i]));
    expect(hashOf(source((i) => [i, i + 0.5, -i]))).toBe(base);
    const variants = [
      source((i) => (i === 5 ? [i, i + 0.25, -i] : [i, i + 0.5, -i])),
      source((i) => [String(i), String(i + 0.5), String(-i)]),
      source((i) => [[i], [i + 0.5], [-i]]),
      source((i) => [i, i + 0.5]),
      source((i) => [i, i + 0.5, -i, 0]),
    ].map(hashOf);
    expect(new Set([base, ...variants]).size).toBe(6);
  });
});

describe('data.array of primitives (hashed since 0.1.0)', () => {
  it('other values are refused with the in-memory message; opted out they restore', async () => {
    const build = (items: number[], options?: { verifyContent?: boolean }) => data.array(items, options).skip(1);
    const state = await stateAfter(build([1, 2, 3, 4, 5]), 2);
    const changed = build([1, 2, 3, 4, 6]);
    expect(() => changed.restoreState(state)).toThrow(refusal(1, hashIn(state.fingerprint), changed));
    const optedOut = build([1, 2, 3, 4, 6], { verifyContent: false });
    optedOut.restoreState(state);
    expect(await optedOut.toArray()).toEqual([4, 6]);
  });
});

describe('data.tensorSlices', () => {
  const xsOf = (bump: number) => tf.tensor2d(Array.from({ length: 20 }, (_, i) => [i, i === 13 ? bump : -i]));
  const build = (xs: tf.Tensor2D, options?: { verifyContent?: boolean }) =>
    data.tensorSlices({ xs, ys: tf.range(0, 20) }, options).shuffle(5, 7).batch(3);

  it('same shape, one other value: refused naming the op and both hashes', async () => {
    const state = await stateAfter(build(xsOf(-13)), 2);
    const changed = build(xsOf(0.5));
    expect(() => changed.restoreState(state)).toThrow(refusal(2, hashIn(state.fingerprint), changed));
  });

  it('the same values in new tensors restore exactly; verifyContent: false resumes over other values', async () => {
    const full = await values(build(xsOf(-13)));
    const state = await stateAfter(build(xsOf(-13)), 2);
    const resumed = build(xsOf(-13));
    resumed.restoreState(state);
    expect(await values(resumed)).toEqual(full.slice(2));

    const optedOut = build(xsOf(0.5), { verifyContent: false });
    optedOut.restoreState(state);
    const rest = await values(optedOut);
    const expected = full.slice(2).map((b) => {
      const batch = b as { xs: number[][]; ys: number[] };
      return { xs: batch.xs.map((row, r) => (batch.ys[r] === 13 ? [13, 0.5] : row)), ys: batch.ys };
    });
    expect(rest).toEqual(expected);
  });
});

describe('large arrays are sampled', () => {
  it('over 100,000 records: a change at a sampled element is refused, the hash is marked sampled', async () => {
    const items = Array.from({ length: 200_001 }, (_, i) => ({ i }));
    const state = await stateAfter(data.array(items), 3);
    expect(hashIn(state.fingerprint)).toMatch(/^sampled-sha256:[0-9a-f]{32}$/);
    const edited = items.slice();
    edited[200_000] = { i: -1 }; // the last element is always a sample
    const changed = data.array(edited);
    expect(() => changed.restoreState(state)).toThrow(refusal(0, hashIn(state.fingerprint), changed));
  });
});

describe('states written before in-memory values were hashed (fixture)', () => {
  const fixture = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'fixtures', 'in_memory_state_before_content_hash.json'), 'utf8'),
  ) as { array: data.DatasetState; tensorSlices: data.DatasetState };

  it('carry no hash, so they are not checked and restore at their position', async () => {
    expect(sourceOp(fixture.array.fingerprint)).toBe('array(length=5)');
    const records = () => [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: 3, b: 'z' }, { a: 4, b: 'w' }, { a: 5, b: 'v' }];
    const build = () => data.array(records()).shuffle(3, 'old');
    const full = await build().toArray();
    const arrayDs = build();
    arrayDs.restoreState(fixture.array);
    expect(await arrayDs.toArray()).toEqual(full.slice(2));

    expect(sourceOp(fixture.tensorSlices.fingerprint)).toBe('tensorSlices(xs:float32[6,2], ys:float32[6])');
    const slices = () => data.tensorSlices({ xs: tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]]), ys: tf.tensor1d([0, 1, 0, 1, 0, 1]) }).batch(2);
    const sliceDs = slices();
    sliceDs.restoreState(fixture.tensorSlices);
    expect(await values(sliceDs)).toEqual((await values(slices())).slice(1));
  });
});
