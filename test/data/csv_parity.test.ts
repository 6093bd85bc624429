import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InvalidArgumentError, data } from '../../src';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-resumable-csv-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Write `text` to a new file and return its `file://` URL, the form tf.data.csv takes in Node. */
function csvFile(text: string): string {
  const file = path.join(dir, `t${fileCount++}.csv`);
  fs.writeFileSync(file, text);
  return `file://${file}`;
}

/** Same file, same config: tf.data.csv and ours give the same column names and the same rows, element by element. */
async function expectParity(text: string, config: NonNullable<Parameters<typeof tf.data.csv>[1]> & data.CsvConfig): Promise<unknown[]> {
  const url = csvFile(text);
  const theirs = tf.data.csv(url, config);
  const ours = data.csv(url, config);
  expect(await ours.columnNames()).toEqual(await theirs.columnNames());
  const expected = await theirs.toArray();
  const actual = await ours.toArray();
  // toStrictEqual: an empty cell must be a present key holding `undefined`, as in tf.data, not a missing key.
  expect(actual).toStrictEqual(expected);
  return actual;
}

const mixed = 'a,b,c\n1,x,2.5\n-3,"y,z",\n4,"q""r",1e3\n5,a"b,0\n,,\n';

describe('data.csv gives what tf.data.csv gives for the same file', () => {
  it('default config: numbers, strings, quoted fields, empty cells, tf.data quote quirks', async () => {
    const rows = await expectParity(mixed, {});
    // Pinned too, so a change in both libraries cannot pass unnoticed.
    expect(rows).toStrictEqual([
      { a: 1, b: 'x', c: 2.5 },
      { a: -3, b: 'y,z', c: undefined },
      { a: 4, b: 'q""r', c: 1000 },
      { a: 5, b: 'a"b', c: 0 },
      { a: undefined, b: undefined, c: undefined },
    ]);
  });

  it('text after a closing quote runs to the next quote, delimiters included (tf.data quirk)', async () => {
    const rows = await expectParity('"ab"cd,7\n"x"\n', { hasHeader: false, columnNames: ['a'] });
    expect(rows).toStrictEqual([{ a: 'ab"cd,7' }, { a: 'x' }]);
  });

  it('CRLF line endings and no final newline', () => expectParity('a,b\r\n1,2\r\n3,4', {}));

  it('columnConfigs: dtype int32 / bool / string / float32, default, required, isLabel → {xs, ys}', async () => {
    const text = 'n,flag,name,w,label\n2.7,true,7,1.5,1\n-2.5,0,bob,,0\n3,2,x,4,1\n0,TRUE,,5,0\n';
    const rows = await expectParity(text, {
      columnConfigs: {
        n: { dtype: 'int32' },
        flag: { dtype: 'bool' },
        name: { dtype: 'string', default: 'none' },
        w: { dtype: 'float32', default: -1 },
        label: { isLabel: true, required: true },
      },
    });
    expect(rows[0]).toStrictEqual({ xs: { n: 2, flag: 1, name: 7, w: 1.5 }, ys: { label: 1 } });
    expect(rows[2]).toStrictEqual({ xs: { n: 3, flag: 0, name: 'x', w: 4 }, ys: { label: 1 } });
  });

  it('configuredColumnsOnly keeps the configured columns; columnNames() lists them in config order', async () => {
    const rows = await expectParity(mixed.split('\n').slice(0, 3).join('\n'), {
      configuredColumnsOnly: true,
      columnConfigs: { c: { default: 0 }, a: { isLabel: true } },
    });
    expect(rows).toStrictEqual([
      { xs: { c: 2.5 }, ys: { a: 1 } },
      { xs: { c: 0 }, ys: { a: -3 } },
    ]);
    expect(await data.csv(csvFile('a,b,c\n'), { configuredColumnsOnly: true, columnConfigs: { c: {}, a: {} } }).columnNames()).toEqual([
      'c',
      'a',
    ]);
  });

  it('hasHeader: false with columnNames reads the first line as data', async () => {
    const rows = await expectParity('1,2\n3,4\n', { hasHeader: false, columnNames: ['x', 'y'] });
    expect(rows).toStrictEqual([
      { x: 1, y: 2 },
      { x: 3, y: 4 },
    ]);
  });

  it('columnNames with a header replace the header names', () => expectParity('a,b\n1,2\n', { columnNames: ['p', 'q'] }));

  it('header names are kept as written (spaces included)', async () => {
    const url = csvFile('a, b\n1,2\n');
    expect(await data.csv(url).columnNames()).toEqual(['a', ' b']);
    await expectParity('a, b\n1,2\n', {});
  });

  it('delimiter: semicolon and tab', async () => {
    await expectParity('a;b;c\n1;"x;y";3\n', { delimiter: ';' });
    await expectParity('a\tb\n1\tx y\n', { delimiter: '\t' });
  });

  it('delimWhitespace collapses runs of spaces', () => expectParity('a  b c\n1 2   3\n  4 5 6\n', { delimWhitespace: true }));

  it('unicode text', () => expectParity('név,szó\nδ,"γ,β"\n日本,語\n', {}));
});

describe('data.csv refuses what tf.data.csv refuses, with a typed error that says what to do', () => {
  async function firstError(run: () => Promise<unknown>): Promise<Error> {
    try {
      await run();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected a failure');
  }

  it('an empty label cell (tf.data fails too)', async () => {
    const url = csvFile('a,label\n1,\n');
    const config = { columnConfigs: { label: { isLabel: true } } };
    expect((await firstError(() => tf.data.csv(url, config).toArray())).message).toBe('Required column label is empty in this line: 1,');
    const ours = await firstError(() => data.csv(url, config).toArray());
    expect(ours).toBeInstanceOf(InvalidArgumentError);
    expect(ours.message).toBe(
      `csv(${JSON.stringify(url)}): required column label is empty in this line: 1,. Give the column a default, or fix the file.`,
    );
  });

  it('a row with the wrong number of fields (tf.data fails too)', async () => {
    const url = csvFile('a,b\n1,2\n3\n');
    await expect(tf.data.csv(url).toArray()).rejects.toThrow('Invalid row in csv file. Should have 2 elements in a row, but got 3');
    const ours = await firstError(() => data.csv(url).toArray());
    expect(ours).toBeInstanceOf(InvalidArgumentError);
    expect(ours.message).toBe(`csv(${JSON.stringify(url)}): a row has 1 fields, expected 2 (a, b): 3`);
  });

  it('at construction: unknown columnConfigs key, duplicate names, name count, no names, both delimiters', async () => {
    const url = csvFile('a,b,a2\n1,2,3\n');
    const q = JSON.stringify(url);
    const cases: [data.CsvConfig, string][] = [
      [{ columnConfigs: { z: {} } }, `csv(${q}): columnConfigs has "z", which is not a column (columns: a, b, a2).`],
      [{ columnNames: ['x', 'y', 'x'] }, `csv(${q}): duplicate column names ["x"]; column names must be unique.`],
      [
        { columnNames: ['x', 'y'] },
        `csv(${q}): columnNames has 2 names but the header line has 3 columns; pass one name per column, or hasHeader: false if the first line is data.`,
      ],
      [{ hasHeader: false }, `csv(${q}): columnNames are required when hasHeader is false.`],
      [{ delimiter: ',', delimWhitespace: true }, `csv(${q}): give either delimiter or delimWhitespace, not both.`],
    ];
    for (const [config, message] of cases) {
      expect(() => data.csv(url, config)).toThrow(new InvalidArgumentError(message));
      // tf.data refuses the same configs (some when built, the rest when it first reads the file).
      await expect((async () => tf.data.csv(url, config).toArray())()).rejects.toThrow();
    }
  });
});

describe('file:// URLs and paths', () => {
  it('csv and textLines take a file:// URL or a plain path and read the same file the same way', async () => {
    const url = csvFile('a,b\n1,2\n3,4\n');
    const local = url.slice('file://'.length);
    expect(await data.csv(local).toArray()).toStrictEqual(await data.csv(url).toArray());
    expect(await data.textLines(url).toArray()).toEqual(['a,b', '1,2', '3,4']);
    expect(await data.textLines(local).toArray()).toEqual(['a,b', '1,2', '3,4']);
    // The state of one resumes the other: both name the same source.
    const byUrl = data.textLines(url);
    const it = await byUrl.iterator();
    await it.next();
    const byPath = data.textLines(local);
    byPath.restoreState(JSON.parse(JSON.stringify(byUrl.saveState())) as data.DatasetState);
    expect(await byPath.toArray()).toEqual(['1,2', '3,4']);
  });

  it('a relative file:// URL is relative to the working directory, as in tfjs', async () => {
    const url = csvFile('x\n1\n');
    const relative = path.relative(process.cwd(), url.slice('file://'.length));
    expect(await data.csv(`file://${relative}`).toArray()).toStrictEqual(await tf.data.csv(`file://${relative}`).toArray());
  });

  it('other schemes are refused, never read as a relative path', () => {
    expect(() => data.csv('http://example.com/t.csv')).toThrow(
      new InvalidArgumentError(
        'csv("http://example.com/t.csv"): the http: scheme is not supported; data files are read from the local disk ' +
          '(a path or a file:// URL). Copy the file to local disk first.',
      ),
    );
    expect(() => data.textLines('s3://bucket/lines.txt')).toThrow(
      new InvalidArgumentError(
        'textLines("s3://bucket/lines.txt"): the s3: scheme is not supported; data files are read from the local disk ' +
          '(a path or a file:// URL). Copy the file to local disk first.',
      ),
    );
    expect(() => data.textLines('file://')).toThrow(new InvalidArgumentError('textLines("file://"): the URL names no path after file://.'));
  });

  it('a missing file is refused at construction with the path', () => {
    const missing = path.join(dir, 'missing.csv');
    expect(() => data.csv(`file://${missing}`)).toThrow(InvalidArgumentError);
    expect(() => data.csv(`file://${missing}`)).toThrow(`Cannot read text file ${JSON.stringify(missing)}: ENOENT`);
  });
});
