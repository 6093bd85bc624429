import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FsLayer, realFsLayer } from '../../src/checkpoint/fs_layer';

/**
 * One file-system mutation a writer made, in the order it made it. Reads (stat, readdir, realpath,
 * readFile) change nothing on disk and are not recorded. Paths are relative to the recorded root.
 */
export type FsOp =
  | { kind: 'mkdir'; path: string }
  | { kind: 'create'; path: string }
  | { kind: 'write'; path: string; position: number; bytes: Buffer }
  | { kind: 'fsyncFile'; path: string }
  | { kind: 'fsyncDir'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'unlink'; path: string }
  /**
   * A marker, not a mutation: the writer began writing `label` (a save), or acknowledged it (it is durable
   * and the user was told so) at this point.
   */
  | { kind: 'mark'; event: 'begin' | 'ack'; label: string };

/**
 * The real file system, recording every mutation (with the bytes written) below `root`: the input of
 * {@link CrashModel}. Directory fsyncs are told from file fsyncs by what the descriptor was opened on.
 */
export class RecordingFs implements FsLayer {
  readonly ops: FsOp[] = [];
  private readonly fds = new Map<number, { path: string; isDir: boolean }>();

  constructor(private readonly root: string) {}

  private rel(p: string): string {
    const r = path.relative(this.root, p);
    if (r.startsWith('..') || path.isAbsolute(r)) throw new Error(`RecordingFs: ${p} is outside ${this.root}`);
    return r.split(path.sep).join('/');
  }

  /** Records that the writer began writing `label` (the test calls it where the writer starts a save). */
  begin(label: string): void {
    this.ops.push({ kind: 'mark', event: 'begin', label });
  }

  /** Records that the writer acknowledged `label` (the test calls it at the writer's acknowledgement). */
  ack(label: string): void {
    this.ops.push({ kind: 'mark', event: 'ack', label });
  }

  async open(p: string, flags: string, mode?: number): Promise<number> {
    const existed = (await realFsLayer.lstat(p)) !== null;
    const fd = await realFsLayer.open(p, flags, mode);
    const st = await realFsLayer.lstat(p);
    this.fds.set(fd, { path: this.rel(p), isDir: st?.isDirectory ?? false });
    if (!existed) this.ops.push({ kind: 'create', path: this.rel(p) });
    return fd;
  }
  async write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const n = await realFsLayer.write(fd, buffer, offset, length, position);
    const f = this.fds.get(fd);
    if (f === undefined) throw new Error('RecordingFs: write to an unknown descriptor');
    this.ops.push({ kind: 'write', path: f.path, position, bytes: Buffer.from(buffer.subarray(offset, offset + n)) });
    return n;
  }
  async fsync(fd: number): Promise<void> {
    await realFsLayer.fsync(fd);
    const f = this.fds.get(fd);
    if (f === undefined) throw new Error('RecordingFs: fsync of an unknown descriptor');
    this.ops.push({ kind: f.isDir ? 'fsyncDir' : 'fsyncFile', path: f.path });
  }
  async close(fd: number): Promise<void> {
    await realFsLayer.close(fd);
    this.fds.delete(fd);
  }
  async rename(from: string, to: string): Promise<void> {
    await realFsLayer.rename(from, to);
    this.ops.push({ kind: 'rename', from: this.rel(from), to: this.rel(to) });
  }
  async unlink(p: string): Promise<void> {
    const existed = (await realFsLayer.lstat(p)) !== null;
    await realFsLayer.unlink(p);
    if (existed) this.ops.push({ kind: 'unlink', path: this.rel(p) });
  }
  async remove(p: string): Promise<void> {
    // A recursive removal unlinks one entry from its parent directory: the subtree goes with it.
    const existed = (await realFsLayer.lstat(p)) !== null;
    await realFsLayer.remove(p);
    if (existed) this.ops.push({ kind: 'unlink', path: this.rel(p) });
  }
  async mkdirp(p: string): Promise<void> {
    const missing: string[] = [];
    for (let d = p; (await realFsLayer.lstat(d)) === null; d = path.dirname(d)) missing.unshift(d);
    await realFsLayer.mkdirp(p);
    for (const d of missing) this.ops.push({ kind: 'mkdir', path: this.rel(d) });
  }
  readFile = realFsLayer.readFile;
  lstat = realFsLayer.lstat;
  readdir = realFsLayer.readdir;
  realpath = realFsLayer.realpath;
  assertWritable = realFsLayer.assertWritable;
}

interface FileNode {
  kind: 'file';
  data: Buffer;
  /** Content as of the last fsync of the file: what survives a power loss. */
  durable: Buffer;
}
interface DirNode {
  kind: 'dir';
  entries: Map<string, Node>;
  /** Entries as of the last fsync of the directory (creates, renames, unlinks after it may be undone). */
  durable: Map<string, Node>;
}
type Node = FileNode | DirNode;

/** How a crash state differs from "every recorded operation happened as issued". */
export type CrashVariant =
  | { kind: 'asIssued' }
  /** (a) data written but not fsynced is lost (the file keeps its last fsynced content). */
  | { kind: 'dropUnsynced' }
  /** (a) data written but not fsynced is cut: only the first half of the file's bytes survive. */
  | { kind: 'truncateUnsynced' }
  /** (b) every directory entry change not followed by a fsync of its directory is undone. */
  | { kind: 'undoUnsyncedEntries' }
  /** (b) only the directory `dir`'s unsynced entry changes are undone (the others persisted). */
  | { kind: 'undoUnsyncedEntriesIn'; dir: string }
  /** (a)+(b): a power loss: only what was fsynced survives. */
  | { kind: 'powerLoss' }
  /** (c) the last operation, a write, is torn: only its first half reached the disk. */
  | { kind: 'tornLastWrite' };

/** A human name of a variant for failure messages and tallies. */
export function variantName(v: CrashVariant): string {
  return v.kind === 'undoUnsyncedEntriesIn' ? `${v.kind}(${v.dir || '.'})` : v.kind;
}

/**
 * The recorded operations replayed on a model of a file system that keeps, for every file, its content
 * and its last fsynced content, and for every directory, its entries and its last fsynced entries. Any
 * prefix of the operations, combined with any {@link CrashVariant}, can be written out as a real directory:
 * the state a crash at that point could leave (as ALICE and CrashMonkey enumerate them).
 */
export class CrashModel {
  private readonly root: DirNode;

  /** `base`: the durable content of the root before the first recorded operation. */
  private constructor(base: DirNode) {
    this.root = base;
  }

  /** A model of the real directory `dir` as it is now, taken to be fully durable. */
  static ofDirectory(dir: string): CrashModel {
    const load = (abs: string): DirNode => {
      const node: DirNode = { kind: 'dir', entries: new Map(), durable: new Map() };
      for (const name of fs.readdirSync(abs)) {
        const p = path.join(abs, name);
        const st = fs.lstatSync(p);
        const child: Node = st.isDirectory()
          ? load(p)
          : { kind: 'file', data: fs.readFileSync(p), durable: fs.readFileSync(p) };
        node.entries.set(name, child);
        node.durable.set(name, child);
      }
      return node;
    };
    return new CrashModel(load(dir));
  }

  private lookupDir(rel: string): DirNode {
    let node: Node = this.root;
    for (const part of rel === '' ? [] : rel.split('/')) {
      if (node.kind !== 'dir') throw new Error(`CrashModel: ${rel} goes through a file`);
      const next: Node | undefined = node.entries.get(part);
      if (next === undefined) throw new Error(`CrashModel: ${rel} does not exist`);
      node = next;
    }
    if (node.kind !== 'dir') throw new Error(`CrashModel: ${rel} is not a directory`);
    return node;
  }

  private parentOf(rel: string): [DirNode, string] {
    const slash = rel.lastIndexOf('/');
    return [this.lookupDir(slash < 0 ? '' : rel.slice(0, slash)), rel.slice(slash + 1)];
  }

  private lookupFile(rel: string): FileNode {
    const [dir, name] = this.parentOf(rel);
    const node = dir.entries.get(name);
    if (node?.kind !== 'file') throw new Error(`CrashModel: ${rel} is not a file`);
    return node;
  }

  /** Applies one operation; `tornBytes` applies only that many bytes of a write. */
  apply(op: FsOp, tornBytes?: number): void {
    switch (op.kind) {
      case 'mkdir': {
        const [dir, name] = this.parentOf(op.path);
        dir.entries.set(name, { kind: 'dir', entries: new Map(), durable: new Map() });
        return;
      }
      case 'create': {
        const [dir, name] = this.parentOf(op.path);
        dir.entries.set(name, { kind: 'file', data: Buffer.alloc(0), durable: Buffer.alloc(0) });
        return;
      }
      case 'write': {
        const file = this.lookupFile(op.path);
        const bytes = tornBytes === undefined ? op.bytes : op.bytes.subarray(0, tornBytes);
        const end = op.position + bytes.length;
        const next = Buffer.alloc(Math.max(file.data.length, end));
        file.data.copy(next);
        bytes.copy(next, op.position);
        file.data = next;
        return;
      }
      case 'fsyncFile': {
        const file = this.lookupFile(op.path);
        file.durable = Buffer.from(file.data);
        return;
      }
      case 'fsyncDir': {
        const dir = this.lookupDir(op.path);
        dir.durable = new Map(dir.entries);
        return;
      }
      case 'rename': {
        const [from, fromName] = this.parentOf(op.from);
        const [to, toName] = this.parentOf(op.to);
        const node = from.entries.get(fromName);
        if (node === undefined) throw new Error(`CrashModel: rename of missing ${op.from}`);
        from.entries.delete(fromName);
        to.entries.set(toName, node);
        return;
      }
      case 'unlink': {
        const [dir, name] = this.parentOf(op.path);
        dir.entries.delete(name);
        return;
      }
      case 'mark':
        return;
    }
  }

  /** Directories (relative paths) whose entries differ from their durable entries. */
  dirtyDirectories(): string[] {
    const dirty: string[] = [];
    const walk = (node: DirNode, rel: string): void => {
      const same =
        node.entries.size === node.durable.size && [...node.entries].every(([k, v]) => node.durable.get(k) === v);
      if (!same) dirty.push(rel);
      for (const [name, child] of node.entries) if (child.kind === 'dir') walk(child, rel === '' ? name : `${rel}/${name}`);
    };
    walk(this.root, '');
    return dirty;
  }

  /** Whether some file holds data not yet fsynced. */
  hasUnsyncedData(): boolean {
    let found = false;
    const walk = (node: DirNode): void => {
      for (const child of node.entries.values()) {
        if (child.kind === 'dir') walk(child);
        else if (!child.data.equals(child.durable)) found = true;
      }
    };
    walk(this.root);
    return found;
  }

  /**
   * Writes the state a crash could leave under `variant` into the empty directory `target`; returns a hash
   * of that state (paths and contents), so identical states are checked once.
   */
  materialise(target: string, variant: CrashVariant): string {
    const hash = createHash('sha256');
    const undo = (rel: string): boolean =>
      variant.kind === 'undoUnsyncedEntries' ||
      variant.kind === 'powerLoss' ||
      (variant.kind === 'undoUnsyncedEntriesIn' && variant.dir === rel);
    const content = (file: FileNode): Buffer => {
      if (file.data.equals(file.durable)) return file.data;
      if (variant.kind === 'dropUnsynced' || variant.kind === 'powerLoss') return file.durable;
      if (variant.kind === 'truncateUnsynced') return file.data.subarray(0, Math.floor(file.data.length / 2));
      return file.data;
    };
    const walk = (node: DirNode, rel: string, abs: string): void => {
      const entries = undo(rel) ? node.durable : node.entries;
      for (const name of [...entries.keys()].sort()) {
        const child = entries.get(name) as Node;
        const childRel = rel === '' ? name : `${rel}/${name}`;
        const childAbs = path.join(abs, name);
        if (child.kind === 'dir') {
          hash.update(`d ${childRel}\n`);
          fs.mkdirSync(childAbs);
          walk(child, childRel, childAbs);
        } else {
          const bytes = content(child);
          hash.update(`f ${childRel} ${bytes.length}\n`).update(bytes);
          fs.writeFileSync(childAbs, bytes);
        }
      }
    };
    walk(this.root, '', target);
    return hash.digest('hex');
  }
}

/** One crash state: the first `prefix` operations happened, then the crash, seen through `variant`. */
export interface CrashState {
  prefix: number;
  variant: CrashVariant;
  /** Labels acknowledged by the writer within the prefix, in order. */
  acknowledged: string[];
  /** Labels whose writing had begun within the prefix (acknowledged or not), in order. */
  started: string[];
}

/** What {@link forEachCrashState} found. */
export interface CrashRunResult {
  /** Crash states enumerated (prefixes × variants). */
  tried: number;
  /** States whose check passed (identical states share one check). */
  passed: number;
  /** Different on-disk states among them, each checked once. */
  distinct: number;
  /** The first state of every distinct state that failed, with the failure. */
  failures: Array<{ state: CrashState; error: string }>;
}

/**
 * Every crash state of a recorded run: every prefix (0 … all operations), each as issued, and with
 * unsynced data dropped and truncated, unsynced directory entries undone (all, and one directory at a
 * time), both (a power loss), and a torn last write. Each state is written under `workDir` and handed to
 * `check` with its directory; identical states (same bytes, same labels begun and acknowledged) are
 * checked once.
 */
export async function forEachCrashState(
  baseDir: string,
  ops: FsOp[],
  workDir: string,
  check: (dir: string, state: CrashState) => Promise<void>,
): Promise<CrashRunResult> {
  let tried = 0;
  let passed = 0;
  const outcomes = new Map<string, boolean>();
  const failures: CrashRunResult['failures'] = [];
  const mutations = ops.filter((op) => op.kind !== 'mark');
  for (let prefix = 0; prefix <= mutations.length; prefix++) {
    const acknowledged: string[] = [];
    const started: string[] = [];
    let applied = 0;
    for (const op of ops) {
      if (op.kind !== 'mark') {
        if (applied === prefix) break;
        applied += 1;
      } else (op.event === 'ack' ? acknowledged : started).push(op.label);
    }
    const build = (tornLast: boolean): CrashModel => {
      const model = CrashModel.ofDirectory(baseDir);
      for (const [i, op] of mutations.slice(0, prefix).entries()) {
        const torn = tornLast && i === prefix - 1 && op.kind === 'write';
        model.apply(op, torn ? Math.floor(op.bytes.length / 2) : undefined);
      }
      return model;
    };
    const model = build(false);
    const variants: CrashVariant[] = [{ kind: 'asIssued' }];
    if (model.hasUnsyncedData()) variants.push({ kind: 'dropUnsynced' }, { kind: 'truncateUnsynced' });
    const dirty = model.dirtyDirectories();
    if (dirty.length > 0) variants.push({ kind: 'undoUnsyncedEntries' });
    if (dirty.length > 1) for (const dir of dirty) variants.push({ kind: 'undoUnsyncedEntriesIn', dir });
    if (dirty.length > 0 && model.hasUnsyncedData()) variants.push({ kind: 'powerLoss' });
    const last = mutations[prefix - 1];
    if (last?.kind === 'write' && last.bytes.length > 1) variants.push({ kind: 'tornLastWrite' });
    for (const variant of variants) {
      tried += 1;
      const target = path.join(workDir, `state-${tried}`);
      fs.mkdirSync(target);
      const torn = variant.kind === 'tornLastWrite';
      const hash = (torn ? build(true) : model).materialise(target, torn ? { kind: 'asIssued' } : variant);
      const key = `${hash} ${acknowledged.join(',')} ${started.join(',')}`;
      let ok = outcomes.get(key);
      if (ok === undefined) {
        const state: CrashState = { prefix, variant, acknowledged, started };
        try {
          await check(target, state);
          ok = true;
        } catch (e) {
          ok = false;
          failures.push({ state, error: e instanceof Error ? e.message : String(e) });
        }
        outcomes.set(key, ok);
      }
      if (ok) passed += 1;
      fs.rmSync(target, { recursive: true, force: true });
    }
  }
  return { tried, passed, distinct: outcomes.size, failures };
}
