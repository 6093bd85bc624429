import * as fs from 'fs';
import { InvalidArgumentError } from '../../errors';
import { fileContentHash } from './file_content_hash';

/** A line of a text file and where it starts and where the next one starts (byte offsets). */
export interface FileLine {
  text: string;
  start: number;
  next: number;
}

const CHUNK = 1 << 16;

/**
 * Reads lines of a file from any byte offset, in 64 KiB chunks, reopening the file for each chunk so an abandoned
 * iterator never leaks a descriptor. Lines end at `\n`; a trailing `\r` is dropped; a final line without `\n`
 * counts; the empty string after a final `\n` does not.
 */
export class LineFile {
  /** File size when the dataset was built; part of the pipeline identity. */
  readonly size: number;
  private contentIdentity: string | null = null;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;

  constructor(readonly path: string) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch (e) {
      throw new InvalidArgumentError(`Cannot read text file ${JSON.stringify(path)}: ${(e as Error).message}`);
    }
    this.size = stat.size;
  }

  /** The hash of the file's bytes (see `fileContentHash`), computed on first use and kept: once per run. */
  contentHash(): string {
    this.contentIdentity ??= fileContentHash(this.path, this.size);
    return this.contentIdentity;
  }

  /** The line starting at byte `offset`, or `null` at the end of the file. */
  lineAt(offset: number): FileLine | null {
    if (offset >= this.size) return null;
    let parts: Buffer[] | null = null;
    let at = offset;
    for (;;) {
      if (at < this.chunkStart || at >= this.chunkStart + this.chunk.length) this.load(at);
      const rel = at - this.chunkStart;
      const nl = this.chunk.indexOf(10, rel);
      if (nl >= 0) {
        const piece = this.chunk.subarray(rel, nl);
        const bytes = parts === null ? piece : Buffer.concat([...parts, piece]);
        return { text: decodeLine(bytes), start: offset, next: this.chunkStart + nl + 1 };
      }
      (parts ??= []).push(Buffer.from(this.chunk.subarray(rel)));
      at = this.chunkStart + this.chunk.length;
      if (at >= this.size) return { text: decodeLine(Buffer.concat(parts)), start: offset, next: this.size };
    }
  }

  /** True when a line starts at byte `offset` (the byte before it is a newline), or `offset` is the end of the file. */
  startsLine(offset: number): boolean {
    if (offset === 0 || offset === this.size) return true;
    const fd = fs.openSync(this.path, 'r');
    try {
      const byte = Buffer.alloc(1);
      return fs.readSync(fd, byte, 0, 1, offset - 1) === 1 && byte[0] === 10;
    } finally {
      fs.closeSync(fd);
    }
  }

  private load(at: number): void {
    const fd = fs.openSync(this.path, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, this.size - at));
      const n = fs.readSync(fd, buf, 0, buf.length, at);
      this.chunk = buf.subarray(0, n);
      this.chunkStart = at;
      if (n === 0) throw new InvalidArgumentError(`Text file ${this.path} became shorter while being read.`);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function decodeLine(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}
