import { FsLayer, realFsLayer } from '../../src/checkpoint/fs_layer';

/** An errno-style error as the real fs produces. */
export function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected, ${syscall} '${path}'`);
  e.code = code;
  e.syscall = syscall;
  e.path = path;
  return e;
}

/** A fault to inject; `target` matches the final (not temporary) file name's basename. */
export type Fault =
  | { kind: 'write'; target: string; code: string; afterBytes: number }
  | { kind: 'rename'; target: string; code: string }
  | { kind: 'fsync'; target: string; code: string }
  | { kind: 'dirFsync'; code: string }
  /** The process "dies" at the rename: nothing after it runs, the temporary file stays. */
  | { kind: 'crashBeforeRename'; target: string };

/** Thrown to simulate a process death: the fs layer refuses every call afterwards. */
export class SimulatedCrash extends Error {}

/** The real file system with one injected fault and a record of every path touched. */
export class FaultyFs implements FsLayer {
  readonly touched: string[] = [];
  private readonly fdPaths = new Map<number, string>();
  private readonly fdWritten = new Map<number, number>();
  private crashed = false;

  constructor(private readonly fault: Fault | null) {}

  /** `.weights.bin.tmp-123-0-4` (pid, thread, counter) → `weights.bin`. */
  private static finalName(p: string): string {
    const base = p.split('/').pop() ?? p;
    const m = /^\.(.*)\.tmp-\d+-\d+-\d+$/.exec(base);
    return m ? m[1] : base;
  }

  private touch(p: string): void {
    if (this.crashed) throw new SimulatedCrash('process is dead');
    this.touched.push(p);
  }

  async open(p: string, flags: string, mode?: number): Promise<number> {
    this.touch(p);
    const fd = await realFsLayer.open(p, flags, mode);
    this.fdPaths.set(fd, p);
    this.fdWritten.set(fd, 0);
    return fd;
  }
  async write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const p = this.fdPaths.get(fd) ?? '';
    this.touch(p);
    const f = this.fault;
    if (f?.kind === 'write' && FaultyFs.finalName(p) === f.target) {
      const done = this.fdWritten.get(fd) ?? 0;
      if (done >= f.afterBytes) throw errno(f.code, 'write', p);
      // A short write first, so the failure really happens mid-file.
      const n = Math.min(length, f.afterBytes - done);
      const written = await realFsLayer.write(fd, buffer, offset, n, position);
      this.fdWritten.set(fd, done + written);
      return written;
    }
    return realFsLayer.write(fd, buffer, offset, length, position);
  }
  async fsync(fd: number): Promise<void> {
    const p = this.fdPaths.get(fd) ?? '';
    this.touch(p);
    const f = this.fault;
    if (f?.kind === 'fsync' && FaultyFs.finalName(p) === f.target && p.includes('.tmp-')) throw errno(f.code, 'fsync', p);
    if (f?.kind === 'dirFsync' && !p.includes('.tmp-')) throw errno(f.code, 'fsync', p);
    return realFsLayer.fsync(fd);
  }
  async close(fd: number): Promise<void> {
    this.fdPaths.delete(fd);
    return realFsLayer.close(fd);
  }
  async rename(from: string, to: string): Promise<void> {
    this.touch(from);
    this.touch(to);
    const f = this.fault;
    const name = FaultyFs.finalName(to);
    if (f?.kind === 'rename' && name === f.target) throw errno(f.code, 'rename', from);
    if (f?.kind === 'crashBeforeRename' && name === f.target) {
      this.crashed = true;
      throw new SimulatedCrash(`crashed before renaming ${from}`);
    }
    return realFsLayer.rename(from, to);
  }
  async unlink(p: string): Promise<void> {
    this.touch(p);
    return realFsLayer.unlink(p);
  }
  async remove(p: string): Promise<void> {
    this.touch(p);
    return realFsLayer.remove(p);
  }
  async mkdirp(p: string): Promise<void> {
    this.touch(p);
    return realFsLayer.mkdirp(p);
  }
  async readFile(p: string): Promise<Uint8Array> {
    this.touch(p);
    return realFsLayer.readFile(p);
  }
  async lstat(p: string): ReturnType<FsLayer['lstat']> {
    this.touch(p);
    return realFsLayer.lstat(p);
  }
  async readdir(p: string): Promise<string[]> {
    this.touch(p);
    return realFsLayer.readdir(p);
  }
  async realpath(p: string): Promise<string> {
    this.touch(p);
    return realFsLayer.realpath(p);
  }
  async assertWritable(p: string): Promise<void> {
    this.touch(p);
    return realFsLayer.assertWritable(p);
  }
}
