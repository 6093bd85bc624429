import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { data } from '../../src';

const { decodeDatasetState, encodeDatasetState } = data;
type DatasetState = data.DatasetState;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A pipeline using every op: the fixtures below are states of it, saved by format versions 1 and 2. */
function everyOpPipeline(): data.CheckpointableDataset<tf.TensorContainer> {
  const a = data.range(0, 40).filter((x) => x % 3 !== 0).map((x) => x * 2).shuffle(6, 'golden', true);
  const b = data.array([100, 101, 102, 103, 104]).skip(1).take(3);
  return data.zip({ a: a.concatenate(data.range(500, 503)), b: b.repeat() }).shard(2, 1).prefetch(2).batch(2).repeat(2);
}

/** State of the pipeline after fitDataset-style start (one discarded iterator) and 4 batches, format 1 (binary blob). */
const FIXTURE = Buffer.from(fs.readFileSync(path.join(__dirname, 'fixtures', 'state_format_v1.b64'), 'utf8').replace(/\s/g, ''), 'base64');

/** The same state, format 2 (plain JSON), as `JSON.stringify(ds.saveState())` writes it. */
const FIXTURE_V2 = fs.readFileSync(path.join(__dirname, 'fixtures', 'state_format_v2.json'), 'utf8').trimEnd();

/** The batches that followed the saved point when the fixture was made. */
const CONTINUATION = [
  [[58, 40], [103, 102]], [[74, 68], [101, 103]], [[62, 501], [102, 101]], [[8, 26], [102, 101]], [[28, 2], [103, 102]],
  [[34, 10], [101, 103]], [[50, 44], [102, 101]], [[58, 74], [103, 102]], [[76, 70], [101, 103]], [[46, 501], [102, 101]],
];

async function drain(it: { next(): Promise<IteratorResult<tf.TensorContainer>> }): Promise<number[][][]> {
  const out: number[][][] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return out;
    const v = r.value as { a: tf.Tensor; b: tf.Tensor };
    out.push([Array.from(v.a.dataSync()), Array.from(v.b.dataSync())]);
    tf.dispose(r.value as tf.TensorContainer);
  }
}

describe('dataset state format, version 1 (states saved by earlier releases must keep restoring)', () => {
  it('a version-1 state restores into a freshly built pipeline and continues with the recorded batches', async () => {
    const ds = everyOpPipeline();
    ds.restoreState(decodeDatasetState(new Uint8Array(FIXTURE)));
    expect(await drain(await ds.iterator())).toEqual(CONTINUATION);
  });

  it('a version-1 state restored and saved again before any element is read is written as version 2, same position', async () => {
    const ds = everyOpPipeline();
    ds.restoreState(decodeDatasetState(new Uint8Array(FIXTURE)));
    const resaved = ds.saveState();
    expect({ formatVersion: resaved.formatVersion, blob: resaved.blob }).toEqual({ formatVersion: 2, blob: undefined });
    const again = everyOpPipeline();
    again.restoreState(JSON.parse(JSON.stringify(resaved)) as DatasetState);
    expect(await drain(await again.iterator())).toEqual(CONTINUATION);
  });
});

describe('dataset state format, version 2 (plain JSON)', () => {
  async function atFixturePoint(): Promise<[data.CheckpointableDataset<tf.TensorContainer>, Awaited<ReturnType<data.CheckpointableDataset<tf.TensorContainer>['iterator']>>]> {
    const ds = everyOpPipeline();
    await ds.iterator();
    const it = await ds.iterator();
    for (let i = 0; i < 4; i++) tf.dispose((await it.next()).value as tf.TensorContainer);
    return [ds, it];
  }

  it('saving at the fixture point today produces the version-2 fixture character for character, with no blob', async () => {
    const [ds, it] = await atFixturePoint();
    const state = ds.saveState();
    expect(state.formatVersion).toBe(2);
    expect(state.blob).toBeUndefined();
    expect(JSON.stringify(state)).toBe(FIXTURE_V2);
    expect(await drain(it)).toEqual(CONTINUATION);
  });

  it('the version-2 fixture, parsed from JSON, restores and continues with the recorded batches; so do its encoded bytes', async () => {
    const ds = everyOpPipeline();
    ds.restoreState(JSON.parse(FIXTURE_V2) as DatasetState);
    expect(await drain(await ds.iterator())).toEqual(CONTINUATION);
    const viaBytes = everyOpPipeline();
    viaBytes.restoreState(decodeDatasetState(encodeDatasetState(JSON.parse(FIXTURE_V2) as DatasetState)));
    expect(await drain(await viaBytes.iterator())).toEqual(CONTINUATION);
  });

  it('one position, one state: the live iterator saves the same object, and either one restores the other', async () => {
    const [, it] = await atFixturePoint();
    expect(JSON.stringify((it as unknown as data.CheckpointableIterator<tf.TensorContainer>).saveState())).toBe(FIXTURE_V2);
    const fresh = everyOpPipeline();
    const freshIt = fresh.checkpointableIterator();
    freshIt.restoreState(JSON.parse(FIXTURE_V2) as DatasetState);
    expect(JSON.stringify(fresh.saveState())).toBe(FIXTURE_V2);
    expect(await drain(freshIt)).toEqual(CONTINUATION);
    expect(await drain(it)).toEqual(CONTINUATION);
  });
});
