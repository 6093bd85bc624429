import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { data } from '../../src';

const { PipelineMismatchError } = data;

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-content-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A state saved after `n` elements, gone through JSON as a user persists it. */
async function stateAfter(ds: data.CheckpointableDataset<tf.TensorContainer>, n: number): Promise<data.DatasetState> {
  const it = await ds.iterator();
  for (let i = 0; i < n; i++) await it.next();
  return JSON.parse(JSON.stringify(ds.saveState())) as data.DatasetState;
}

/** Same bytes written again with another mtime: what a copy to a new machine looks like. */
function rewriteSame(file: string): void {
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes);
  fs.utimesSync(file, new Date(2001, 0, 1), new Date(2001, 0, 1));
}

function contentHashIn(state: data.DatasetState): string {
  return /content=([^,)]+)\)/.exec(state.fingerprint)?.[1] ?? 'none';
}

describe('the fingerprint of a file source covers its bytes', () => {
  it('textLines: a same-size edit is refused naming the change; the same bytes with a new mtime restore', async () => {
    const file = path.join(dir, 'lines.txt');
    const lines = Array.from({ length: 30 }, (_, i) => `line ${String(i).padStart(2, '0')}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const build = () => data.textLines(file).shuffle(5, 3);
    const full = await build().toArray();
    const state = await stateAfter(build(), 12);

    rewriteSame(file);
    const resumed = build();
    resumed.restoreState(state);
    expect(await resumed.toArray()).toEqual(full.slice(12));

    fs.writeFileSync(file, (lines.join('\n') + '\n').replace('line 20', 'line 99'));
    expect(fs.statSync(file).size).toBe(Buffer.byteLength(lines.join('\n') + '\n'));
    const edited = build();
    const now = /content=([^,)]+)\)/.exec(edited.fingerprint())?.[1];
    expect(now).not.toBe(contentHashIn(state));
    expect(() => edited.restoreState(state)).toThrow(
      new PipelineMismatchError(
        `The saved state belongs to other data: op 1 reads a file whose content changed since the state was saved ` +
          `(hash ${contentHashIn(state)} then, ${now} now), so its saved byte offsets would point at other lines: ` +
          `textLines(path=${JSON.stringify(file)}, bytes=${fs.statSync(file).size}, content=${now}). Restore the original ` +
          'file, or start without the saved state.',
      ),
    );
  });

  it('csv through a file:// URL: an edited cell is refused, the unchanged file restores', async () => {
    const file = path.join(dir, 'table.csv');
    const text = 'x,y\n' + Array.from({ length: 20 }, (_, i) => `${i},${i % 3}`).join('\n') + '\n';
    fs.writeFileSync(file, text);
    const build = () => data.csv(`file://${file}`, { columnConfigs: { y: { isLabel: true } } });
    const full = await build().toArray();
    const state = await stateAfter(build(), 7);
    rewriteSame(file);
    const resumed = build();
    resumed.restoreState(state);
    expect(await resumed.toArray()).toEqual(full.slice(7));
    fs.writeFileSync(file, text.replace('\n15,0\n', '\n15,2\n'));
    expect(() => build().restoreState(state)).toThrow(PipelineMismatchError);
    expect(() => build().restoreState(state)).toThrow(/reads a file whose content changed since the state was saved/);
  });

  it('a file above the full-hash limit is identified by sampled chunks (an edit in a sample is refused)', async () => {
    const file = path.join(dir, 'big.txt');
    const line = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz012\n'; // 66 bytes
    const count = Math.ceil((9 << 20) / line.length);
    fs.writeFileSync(file, line.repeat(count));
    const state = await stateAfter(data.textLines(file), 3);
    expect(contentHashIn(state)).toMatch(/^sampled-sha256:[0-9a-f]{32}$/);
    rewriteSame(file);
    const resumed = data.textLines(file);
    resumed.restoreState(state);
    expect((await (await resumed.iterator()).next()).value).toBe(line.slice(0, -1));
    // The last byte before the final newline is inside the last sample.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, 'Z', fs.statSync(file).size - 2);
    fs.closeSync(fd);
    expect(() => data.textLines(file).restoreState(state)).toThrow(/reads a file whose content changed since the state was saved/);
  });

  it('verifyContent: false resumes over an edited file; a state without a hash is refused unless opted out', async () => {
    const file = path.join(dir, 'optout.txt');
    const lines = Array.from({ length: 12 }, (_, i) => `row ${String(i).padStart(2, '0')}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const hashed = await stateAfter(data.textLines(file), 4);
    fs.writeFileSync(file, (lines.join('\n') + '\n').replace('row 07', 'row 77'));

    const optedOut = data.textLines(file, { verifyContent: false });
    expect(JSON.parse(optedOut.fingerprint())).toEqual([`textLines(path=${JSON.stringify(file)}, bytes=${fs.statSync(file).size})`]);
    optedOut.restoreState(hashed);
    expect(await optedOut.toArray()).toEqual(['row 04', 'row 05', 'row 06', 'row 77', 'row 08', 'row 09', 'row 10', 'row 11']);

    const unhashed = await stateAfter(data.textLines(file, { verifyContent: false }), 2);
    const description = `textLines(path=${JSON.stringify(file)}, bytes=${fs.statSync(file).size}, content=${
      /content=([^,)]+)\)/.exec(data.textLines(file).fingerprint())?.[1]
    })`;
    expect(() => data.textLines(file).restoreState(unhashed)).toThrow(
      new PipelineMismatchError(
        'The saved state carries no hash of the file that op 0 reads (it was saved by 0.1.0 or with ' +
          `{ verifyContent: false }), so whether the file changed cannot be checked: ${description}. Build the source ` +
          'with { verifyContent: false } to resume it anyway, or start without the saved state.',
      ),
    );
    const csvOptedOut = data.csv(file, { hasHeader: false, columnNames: ['text'], verifyContent: false });
    expect(csvOptedOut.fingerprint()).not.toMatch(/content=/);
  });
});
