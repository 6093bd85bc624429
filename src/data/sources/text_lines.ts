import type { BlobReader } from '../blob';
import { StateFormatError } from '../errors';
import { CheckpointableIterator, Item } from '../iterator';
import { PipelineNode } from '../node';
import type { JsonValue } from '../state';
import { readInt, readObject } from '../state_fields';
import { FileLine, LineFile } from './line_file';

/** Options of the file sources (`data.textLines`, `data.csv`). */
export interface FileSourceOptions {
  /**
   * Put a hash of the file's bytes into the pipeline fingerprint (default `true`), so a state saved over a file
   * whose content changed (an edited row of the same size) is refused with `PipelineMismatchError` instead of
   * resuming at byte offsets that now point at other lines. `false` when the file changes between runs on purpose
   * and you accept that: the file is then identified by its path and size only.
   */
  verifyContent?: boolean;
}

/**
 * Lines of a text file (node path). Resumes by byte offset: a restore seeks, it does not re-read what was before.
 * Element keys are line start offsets. `parse` turns a line into an element (used by `csv`); `keep` drops lines.
 */
export class LineSourceNode<T> extends PipelineNode<T> {
  readonly children: readonly PipelineNode<unknown>[] = [];
  readonly addressable = true;
  readonly size = null;

  constructor(
    readonly file: LineFile,
    private readonly name: string,
    /** Byte offset of the first line to deliver (after a csv header). */
    readonly firstOffset: number,
    readonly parse: (line: string) => T,
    readonly keep: (line: string) => boolean = () => true,
    /** Put a hash of the file's bytes into the description (see {@link FileSourceOptions}). */
    private readonly verifyContent = true,
  ) {
    super();
  }

  override get randomAccess(): boolean {
    return true;
  }

  override get keyLimit(): number {
    return this.file.size;
  }

  /**
   * Path, size and a hash of the bytes: a state saved over other content (an edited row, same size) is refused.
   * Without `verifyContent`, path and size only (and the file is not read for a hash).
   */
  describe(): string {
    const identity = `path=${JSON.stringify(this.file.path)}, bytes=${this.file.size}`;
    return this.verifyContent ? `${this.name}(${identity}, content=${this.file.contentHash()})` : `${this.name}(${identity})`;
  }

  createIterator(): CheckpointableIterator<T> {
    return new LineSourceIterator(this, new LineFile(this.file.path));
  }

  override fetchMany(keys: readonly number[]): Promise<T[]> {
    const reader = new LineFile(this.file.path);
    return Promise.resolve(
      keys.map((k) => {
        const line = reader.lineAt(k);
        if (line === null) throw new StateFormatError(`${this.describe()}: no line starts at byte ${k}`);
        return this.parse(line.text);
      }),
    );
  }
}

class LineSourceIterator<T> extends CheckpointableIterator<T> {
  private offset: number;

  constructor(
    private readonly source: LineSourceNode<T>,
    private readonly reader: LineFile,
  ) {
    super(source);
    this.offset = source.firstOffset;
  }

  pull(): Promise<Item<T> | null> {
    for (;;) {
      const line: FileLine | null = this.reader.lineAt(this.offset);
      if (line === null) return Promise.resolve(null);
      this.offset = line.next;
      if (this.source.keep(line.text)) return Promise.resolve({ value: this.source.parse(line.text), key: line.start });
    }
  }

  save(): JsonValue {
    return { offset: this.offset };
  }

  restore(state: JsonValue, _blobs: BlobReader, path: string): void {
    const offset = readInt(readObject(state, path).offset, `${path}.offset`);
    if (offset > this.source.file.size || offset < this.source.firstOffset) {
      throw new StateFormatError(
        `${path}.offset: byte ${offset} is outside the data of ${this.source.file.path} (${this.source.firstOffset}..${this.source.file.size})`,
      );
    }
    if (offset > this.source.firstOffset && !this.reader.startsLine(offset)) {
      throw new StateFormatError(`${path}.offset: byte ${offset} of ${this.source.file.path} is inside a line, not at the start of one`);
    }
    this.offset = offset;
  }
}
