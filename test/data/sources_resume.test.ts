import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as data from '../../src/data';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-data-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Bytes of the base64 key list of the shuffle buffer directly under the dataset's top op. */
function bufferKeyBytes(state: data.DatasetState): number {
  return Buffer.from((state.iterator as { buffer: { keys: string } }).buffer.keys, 'base64').byteLength;
}

async function drain<T>(it: { next(): Promise<IteratorResult<T>> }, n = Infinity): Promise<T[]> {
  const out: T[] = [];
  for (let r = n > 0 ? await it.next() : null; r !== null && !r.done; r = out.length < n ? await it.next() : null) out.push(r.value);
  return out;
}

describe('textLines', () => {
  it('reads lines (CRLF, no final newline) and resumes by byte offset', async () => {
    const file = path.join(dir, 'lines.txt');
    fs.writeFileSync(file, 'alpha\r\nbeta\n\ngamma δ\nlast');
    expect(await data.textLines(file).toArray()).toEqual(['alpha', 'beta', '', 'gamma δ', 'last']);
    const ds = data.textLines(file);
    const it = await ds.iterator();
    expect(await drain(it, 2)).toEqual(['alpha', 'beta']);
    const state = ds.saveState();
    expect(state.iterator).toEqual({ offset: Buffer.byteLength('alpha\r\nbeta\n') });
    const again = data.textLines(file);
    again.restoreState(state);
    expect(await (await again.iterator()).toArray()).toEqual(['', 'gamma δ', 'last']);
  });

  it('a shuffle over lines saves line offsets, and a changed file is refused', async () => {
    const file = path.join(dir, 'many.txt');
    fs.writeFileSync(file, Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n') + '\n');
    const build = () => data.textLines(file).map((l) => l.toUpperCase()).shuffle(10, 4);
    const full = await build().toArray();
    const ds = build();
    const it = await ds.iterator();
    const head = await drain(it, 17);
    const state = ds.saveState();
    expect(state.blob).toBeUndefined();
    expect(bufferKeyBytes(state)).toBe(40); // 10 buffered offsets, 4 bytes each
    const resumed = build();
    resumed.restoreState(JSON.parse(JSON.stringify(state)) as data.DatasetState);
    expect([...head, ...(await (await resumed.iterator()).toArray())]).toEqual(full);
    fs.appendFileSync(file, 'extra\n');
    expect(() => build().restoreState(state)).toThrow(data.PipelineMismatchError);
  });
});

describe('csv', () => {
  it('parses like tf.data (numbers, strings, labels) and resumes by byte offset', async () => {
    const file = path.join(dir, 'table.csv');
    fs.writeFileSync(file, 'a,b,label\n1,"x,y",0\n2,z,1\n\n3,"q""r",0\n');
    const build = () => data.csv(file, { columnConfigs: { label: { isLabel: true } } });
    expect(await build().toArray()).toEqual([
      { xs: { a: 1, b: 'x,y' }, ys: { label: 0 } },
      { xs: { a: 2, b: 'z' }, ys: { label: 1 } },
      { xs: { a: 3, b: 'q""r' }, ys: { label: 0 } },
    ]);
    const ds = build();
    const it = await ds.iterator();
    await drain(it, 1);
    const resumed = build();
    resumed.restoreState(ds.saveState());
    expect(await (await resumed.iterator()).toArray()).toEqual([
      { xs: { a: 2, b: 'z' }, ys: { label: 1 } },
      { xs: { a: 3, b: 'q""r' }, ys: { label: 0 } },
    ]);
  });
});

describe('generator', () => {
  function* numbers(): Iterator<number> {
    for (let i = 0; i < 30; i++) yield i * i;
  }

  it('replayable (default): re-runs and skips; shuffle buffers are saved as ordinals', async () => {
    let calls = 0;
    const build = () => data.generator(() => (calls++, numbers())).shuffle(8, 2);
    const full = await build().toArray();
    const ds = build();
    const it = await ds.iterator();
    const head = await drain(it, 11);
    const state = ds.saveState();
    expect(bufferKeyBytes(state)).toBe(32);
    calls = 0;
    const resumed = build();
    resumed.restoreState(JSON.parse(JSON.stringify(state)) as data.DatasetState);
    expect([...head, ...(await (await resumed.iterator()).toArray())]).toEqual(full);
    expect(calls).toBe(2); // once to recompute the buffer, once to continue
  });

  it('not replayable: buffered elements are materialized as base64 inside the JSON; the stream continues where it is', async () => {
    // A queue shared by both "processes": consumed elements are gone.
    const queue = Array.from({ length: 30 }, (_, i) => ({ id: i, v: tf.tensor1d([i, -i]) }));
    let cursor = 0;
    const fromQueue = (): Iterator<{ id: number; v: tf.Tensor }> => ({
      next: () => (cursor < queue.length ? { value: { id: queue[cursor].id, v: queue[cursor++].v.clone() }, done: false } : { value: undefined, done: true }),
    });
    const expected = await data.generator(() => Array.from({ length: 30 }, (_, i) => ({ id: i, v: tf.tensor1d([i, -i]) }))[Symbol.iterator]()).shuffle(5, 9).toArray();
    const build = () => data.generator(fromQueue, { replayable: false }).shuffle(5, 9);
    const ds = build();
    const it = await ds.iterator();
    const head = await drain(it, 12);
    const state = ds.saveState();
    expect(state.blob).toBeUndefined();
    expect(typeof (state.iterator as { buffer: { elements: unknown } }).buffer.elements).toBe('string');
    expect(JSON.stringify(state.iterator)).not.toContain('"id"');
    const resumed = build();
    resumed.restoreState(JSON.parse(JSON.stringify(state)) as data.DatasetState);
    const rest = await (await resumed.iterator()).toArray();
    const ids = (xs: { id: number; v: tf.Tensor }[]) => xs.map((x) => [x.id, Array.from(x.v.dataSync())]);
    expect(ids([...head, ...rest] as { id: number; v: tf.Tensor }[])).toEqual(ids(expected as { id: number; v: tf.Tensor }[]));
  });
});

describe('tensorSlices', () => {
  it('slices records of tensors and resumes', async () => {
    const xs = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const ys = tf.tensor1d([7, 8, 9]);
    const build = () => data.tensorSlices({ xs, ys });
    const ds = build();
    const it = await ds.iterator();
    await drain(it, 1);
    const resumed = build();
    resumed.restoreState(ds.saveState());
    const rest = (await (await resumed.iterator()).toArray()) as { xs: tf.Tensor; ys: tf.Tensor }[];
    expect(rest.map((e) => [e.xs.arraySync(), e.ys.arraySync()])).toEqual([[[3, 4], 8], [[5, 6], 9]]);
  });
});
