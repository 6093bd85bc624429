import type * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../../errors';
import { localDataFilePath } from '../../file_url';
import { CheckpointableDataset } from '../dataset';
import type { PipelineNode } from '../node';
import { splitCsvLine } from './csv_fields';
import { LineFile } from './line_file';
import { LineSourceNode } from './text_lines';

/** Per-column options, tf.data's `ColumnConfig` with the same meaning. */
export interface CsvColumnConfig {
  /** Throw `InvalidArgumentError` on an empty cell that has no `default`; default false (empty gives `undefined`). */
  required?: boolean;
  /**
   * How a numeric cell is parsed, as tf.data does: `'int32'` floors; `'bool'` gives 1 for `1` and 0 otherwise;
   * anything else (`'float32'`, `'string'`, unset) gives the number. Non-numeric text stays a string, except with
   * `'bool'`, which gives 1 for `true` (any case) and 0 otherwise.
   */
  dtype?: tf.DataType;
  /** Value used for an empty cell. Without it an empty cell is `undefined`. */
  default?: CsvValue;
  /** The column is a label: it goes to the row's `ys`, and rows become `{xs, ys}`. Its cells may not be empty. */
  isLabel?: boolean;
}

/** Options of `csv()`: tf.data's `CSVConfig`, same names, defaults and meaning. */
export interface CsvConfig {
  /** The first line holds the column names (and is not a row). Default true. */
  hasHeader?: boolean;
  /**
   * Column names in file order; required when `hasHeader` is false. With a header they are used instead of it and
   * must be as many as the header's.
   */
  columnNames?: string[];
  /** Per-column parsing options, keyed by column name (every key must be a column). */
  columnConfigs?: { [name: string]: CsvColumnConfig };
  /** Keep only the columns that have an entry in `columnConfigs`. Default false. */
  configuredColumnsOnly?: boolean;
  /** Field separator. Default `','`. (tf.data compares one character; here it may be several.) */
  delimiter?: string;
  /** Fields are separated by runs of spaces (then `delimiter` must not be given). Default false. */
  delimWhitespace?: boolean;
  /** See {@link FileSourceOptions.verifyContent} (default `true`). */
  verifyContent?: boolean;
}

/** One parsed CSV cell: a number, a string, `undefined` for an empty cell, or the column's `default`. */
export type CsvValue = number | string | boolean | undefined;
/** A csv row: a record of values, or `{xs, ys}` when some column is a label. */
export type CsvRow =
  | { [name: string]: CsvValue }
  | {
      /** The feature columns (every column not marked `isLabel`). */
      xs: { [name: string]: CsvValue };
      /** The label columns (`isLabel: true`). */
      ys: { [name: string]: CsvValue };
    };

/** The dataset `csv()` returns: a `CheckpointableDataset` of rows that also knows its columns, like tf.data's `CSVDataset`. */
export class CsvDataset extends CheckpointableDataset<CsvRow> {
  /** Built by {@link csv}. */
  constructor(
    node: PipelineNode<CsvRow>,
    private readonly outputColumns: readonly string[],
  ) {
    super(node);
  }

  /**
   * The names of the columns in each row, as tf.data's `CSVDataset.columnNames()`: the `columnConfigs` keys with
   * `configuredColumnsOnly`, else `columnNames` when given, else the header's names.
   */
  columnNames(): Promise<string[]> {
    return Promise.resolve([...this.outputColumns]);
  }
}

/**
 * Rows of a CSV file, resumable by byte offset. `source` is a `file://` URL (what tf.data's `csv` takes in Node) or a
 * plain path. Rows are the elements tf.data's `csv` gives for the same file and config: numbers when numeric, strings
 * otherwise, `undefined` for an empty cell, `dtype` and `default` per column, label columns in `ys`. One deliberate
 * difference: an empty line is skipped (tf.data fails on it, or yields an all-`undefined` row for one column).
 * The file's columns are checked here, before any training step: missing column names, duplicates and
 * `columnConfigs` keys that are not columns throw `InvalidArgumentError`.
 */
export function csv(source: string, config: CsvConfig = {}): CsvDataset {
  const what = `csv(${JSON.stringify(source)})`;
  const file = new LineFile(localDataFilePath(source, 'csv'));
  if (config.delimWhitespace === true && config.delimiter !== undefined) {
    throw new InvalidArgumentError(`${what}: give either delimiter or delimWhitespace, not both.`);
  }
  const delimWhitespace = config.delimWhitespace === true;
  const delimiter = delimWhitespace ? ' ' : (config.delimiter ?? ',');
  if (delimiter === '') throw new InvalidArgumentError(`${what}: the delimiter is an empty string; pass at least one character.`);
  const hasHeader = config.hasHeader !== false;
  let columns = config.columnNames;
  let firstOffset = 0;
  if (hasHeader) {
    const header = file.lineAt(0);
    if (header === null) throw new InvalidArgumentError(`${what}: the file is empty but hasHeader is true; it needs a header line.`);
    const fromFile = splitCsvLine(header.text, delimiter, delimWhitespace);
    if (columns !== undefined && columns.length !== fromFile.length) {
      throw new InvalidArgumentError(
        `${what}: columnNames has ${columns.length} names but the header line has ${fromFile.length} columns; ` +
          'pass one name per column, or hasHeader: false if the first line is data.',
      );
    }
    columns ??= fromFile;
    firstOffset = header.next;
  }
  if (columns === undefined) throw new InvalidArgumentError(`${what}: columnNames are required when hasHeader is false.`);
  const names = [...columns];
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) {
    throw new InvalidArgumentError(`${what}: duplicate column names ${JSON.stringify([...new Set(duplicates)])}; column names must be unique.`);
  }
  const configs = config.columnConfigs ?? {};
  for (const key of Object.keys(configs)) {
    if (!names.includes(key)) {
      throw new InvalidArgumentError(`${what}: columnConfigs has "${key}", which is not a column (columns: ${names.join(', ')}).`);
    }
  }
  const only = config.configuredColumnsOnly === true;
  const hasLabel = names.some((n) => configs[n]?.isLabel === true);
  const parse = (line: string): CsvRow => {
    const values = splitCsvLine(line, delimiter, delimWhitespace);
    if (values.length !== names.length) {
      throw new InvalidArgumentError(`${what}: a row has ${values.length} fields, expected ${names.length} (${names.join(', ')}): ${line}`);
    }
    const xs: { [name: string]: CsvValue } = {};
    const ys: { [name: string]: CsvValue } = {};
    names.forEach((name, i) => {
      const c = configs[name];
      if (only && c === undefined) return;
      const v = parseValue(values[i], c, name, line, what);
      if (c?.isLabel === true) ys[name] = v;
      else xs[name] = v;
    });
    return hasLabel ? { xs, ys } : xs;
  };
  const describeConfig = JSON.stringify({ delimiter, delimWhitespace, hasHeader, columns: names, configs, only });
  const node = new LineSourceNode<CsvRow>(
    file,
    `csv[${describeConfig}]`,
    firstOffset,
    parse,
    (l) => l !== '',
    config.verifyContent ?? true,
  );
  return new CsvDataset(node, only ? Object.keys(configs) : names);
}

/** One cell, by tf.data's rules (`CSVDataset.makeDataElement`). */
function parseValue(raw: string, config: CsvColumnConfig | undefined, name: string, line: string, what: string): CsvValue {
  if (raw === '') {
    if (config?.default !== undefined) return config.default;
    if (config?.required === true || config?.isLabel === true) {
      throw new InvalidArgumentError(`${what}: required column ${name} is empty in this line: ${line}. Give the column a default, or fix the file.`);
    }
    return undefined;
  }
  const n = Number(raw);
  if (Number.isNaN(n)) return config?.dtype === 'bool' ? asBool(raw) : raw;
  if (config?.dtype === 'int32') return Math.floor(n);
  if (config?.dtype === 'bool') return asBool(raw);
  return n;
}

/** tf.data's bool cell: 1 for `1` or `true` (any case), else 0. */
function asBool(raw: string): number {
  return raw === '1' || raw.toLowerCase() === 'true' ? 1 : 0;
}
