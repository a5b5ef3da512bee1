import { readSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { nodeFileSystem, temporaryPath } from '@convkit/io';
import type { FileSystem } from '@convkit/io';

/** The first 8 bytes of a decoded-image cache file. */
const MAGIC = 'CKIMGC01';
/** Rows start at a multiple of this, after the header, the checksum table and the header checksum. */
const ALIGN = 4096;

/** One source file as the cache records it. */
export interface CacheSource {
  /** The file's path. */
  path: string;
  /** Its size in bytes when indexed. */
  size: number;
  /** Its modification time (ms) when indexed. */
  mtimeMs: number;
}

/** What a cache must match: the folder, the decoded size and every source file. */
export interface CacheIdentity {
  /** The image folder (absolute). */
  dir: string;
  /** `[height, width, channels]` of every row. */
  shape: readonly [number, number, number];
  /** The source files, in row order. */
  sources: readonly CacheSource[];
}

interface Header {
  version: 1;
  dir: string;
  shape: [number, number, number];
  count: number;
  stride: number;
  /** `[path relative to dir, size, mtimeMs]` per row. */
  files: [string, number, number][];
}

function headerOf(identity: CacheIdentity): Header {
  const [height, width, channels] = identity.shape;
  return {
    version: 1,
    dir: identity.dir,
    shape: [height, width, channels],
    count: identity.sources.length,
    stride: height * width * channels,
    // Whole milliseconds: a modification time set through utimes (a copy, an unpacked archive) keeps only those.
    files: identity.sources.map((s) => [relative(identity.dir, s.path), s.size, Math.trunc(s.mtimeMs)]),
  };
}

/** Byte offsets of a cache file's parts for a header of `jsonLength` bytes and `count` rows. */
function layout(jsonLength: number, count: number, stride: number): { table: number; check: number; data: number; total: number } {
  const table = 12 + jsonLength;
  const check = table + 4 * count;
  const data = Math.ceil((check + 4) / ALIGN) * ALIGN;
  return { table, check, data, total: data + count * stride };
}

function describeShape(shape: readonly number[]): string {
  return shape.join('×');
}

/** Why a cache file cannot be used: `stale` and `damaged` ones are rebuilt, `foreign` ones refused. */
type Verdict = { kind: 'ok'; header: Header; crcs: Uint32Array; data: number } | { kind: 'stale' | 'damaged'; reason: string };

async function inspect(path: string, expected: Header): Promise<Verdict> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const prefix = Buffer.alloc(12);
    if (size < 12 || (await handle.read(prefix, 0, 12, 0)).bytesRead < 12 || prefix.toString('latin1', 0, 8) !== MAGIC) {
      return { kind: 'damaged', reason: `it does not start with the ${MAGIC} header (${size} bytes)` };
    }
    const jsonLength = prefix.readUInt32LE(8);
    if (12 + jsonLength > size) return { kind: 'damaged', reason: `its header is cut short (${size} bytes)` };
    const json = Buffer.alloc(jsonLength);
    await handle.read(json, 0, jsonLength, 12);
    let header: Header;
    try {
      header = JSON.parse(json.toString('utf8')) as Header;
    } catch {
      return { kind: 'damaged', reason: 'its header is not valid JSON' };
    }
    if (header.dir !== expected.dir || describeShape(header.shape) !== describeShape(expected.shape)) {
      throw new Error(
        `cache ${path} holds ${header.count} images of ${describeShape(header.shape)} from ${header.dir}, but this ` +
          `dataset expects ${expected.count} images of ${describeShape(expected.shape)} from ${expected.dir}: ` +
          'pass another cache path (one per folder and size), or delete the file',
      );
    }
    const changed = expected.files.findIndex((file, i) => {
      const other = header.files[i];
      // Modification times match to 1 ms: a time set through utimes (a copy, an unpacked archive) can come back 1 ns short.
      return other === undefined || other[0] !== file[0] || other[1] !== file[1] || Math.abs(other[2] - file[2]) > 1;
    });
    if (changed >= 0 || header.files.length !== expected.files.length) {
      const file = expected.files[changed >= 0 ? changed : expected.files.length]?.[0] ?? header.files[expected.files.length]?.[0];
      return { kind: 'stale', reason: `the folder changed since it was written (first difference: ${file ?? 'the file count'})` };
    }
    const parts = layout(jsonLength, header.count, header.stride);
    if (size !== parts.total) return { kind: 'damaged', reason: `it has ${size} bytes instead of ${parts.total} (truncated)` };
    const table = Buffer.alloc(parts.check + 4 - parts.table);
    await handle.read(table, 0, table.length, parts.table);
    const stored = table.readUInt32LE(table.length - 4);
    let sum = crc32(prefix);
    sum = crc32(json, sum);
    sum = crc32(table.subarray(0, table.length - 4), sum);
    if (sum !== stored) return { kind: 'damaged', reason: 'its header checksum does not match' };
    const crcs = new Uint32Array(header.count);
    for (let i = 0; i < header.count; i++) crcs[i] = table.readUInt32LE(4 * i);
    return { kind: 'ok', header, crcs, data: parts.data };
  } finally {
    await handle.close();
  }
}

/** Options of {@link ImageCache.open}. */
export interface ImageCacheOptions {
  /** Receives a line when a cache is rebuilt or a row is read again from its source. */
  log: (line: string) => void;
  /** The file system for the final rename and directory sync. Defaults to `@convkit/io`'s `nodeFileSystem`. */
  fileSystem?: FileSystem;
}

/**
 * A decoded-image cache file, like FFCV's: every image of a folder decoded once at the target size into one file of
 * fixed-stride uint8 rows, read back by position.
 *
 * Layout: `CKIMGC01`, a u32 header length, a JSON header (folder, `[h, w, c]`, count, stride, and each source file's
 * relative path, size and mtime), a CRC-32 per row, a CRC-32 of everything before it, then the rows from the next
 * 4 KiB boundary. A cache is built in a temporary file beside its path (rows written as the first epoch decodes them)
 * and renamed into place, fsynced, only once every row is in it, so a crash leaves no half-valid cache. On open, a
 * cache whose files changed (stale), or that is truncated or damaged, is rebuilt; one made for another folder or size
 * is refused. Each row's CRC is checked when it is read.
 */
export class ImageCache {
  private readonly written: Uint8Array;
  private missing: number;
  private finishing: Promise<void> | undefined;
  /** Whether {@link finish} is under way (the handle may be swapped). */
  private renaming = false;
  private finished = false;
  private broken = false;

  private constructor(
    /** The cache file's path. */
    readonly path: string,
    private handle: FileHandle,
    private readonly header: Header,
    private readonly crcs: Uint32Array,
    private dataOffset: number,
    private readonly building: { temporary: string; json: Buffer; fileSystem: FileSystem } | undefined,
    private readonly log: (line: string) => void,
  ) {
    this.written = new Uint8Array(header.count).fill(building === undefined ? 1 : 0);
    this.missing = building === undefined ? 0 : header.count;
  }

  /** Whether every row is in the cache file (later epochs read only from it). */
  get complete(): boolean {
    return this.building === undefined || this.finished;
  }

  /** Opens the cache at `path` for `identity`: reuses a valid one, else starts building a new one. */
  static async open(path: string, identity: CacheIdentity, options: ImageCacheOptions): Promise<ImageCache> {
    const target = resolve(path);
    const expected = headerOf(identity);
    const exists = await stat(target).then(
      (s) => s.isFile(),
      () => false,
    );
    if (exists) {
      const verdict = await inspect(target, expected);
      if (verdict.kind === 'ok') {
        const handle = await open(target, 'r');
        return new ImageCache(target, handle, verdict.header, verdict.crcs, verdict.data, undefined, options.log);
      }
      options.log(`image cache ${target} is rebuilt: ${verdict.reason}`);
    }
    const json = Buffer.from(JSON.stringify(expected), 'utf8');
    const parts = layout(json.length, expected.count, expected.stride);
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    await fileSystem.makeDirectory(dirname(target));
    const temporary = temporaryPath(target);
    const handle = await open(temporary, 'w+');
    try {
      await handle.truncate(parts.total);
    } catch (error) {
      await handle.close();
      await fileSystem.remove(temporary);
      throw error;
    }
    const crcs = new Uint32Array(expected.count);
    return new ImageCache(target, handle, expected, crcs, parts.data, { temporary, json, fileSystem }, options.log);
  }

  /** Whether row `row` can be read from the cache. */
  has(row: number): boolean {
    return this.written[row] === 1;
  }

  /**
   * Reads row `row` into `target` at `offset`. Returns `false` (and logs) when the bytes fail their checksum, so the
   * caller decodes the source instead; never hands out garbage.
   */
  async read(row: number, target: Uint8Array, offset: number): Promise<boolean> {
    await this.finishing;
    return this.readNow(row, target, offset) === true;
  }

  /**
   * {@link read} without waiting: `undefined` when the row cannot be read now (not written yet, or the finished file is
   * being renamed into place), else whether it passed its checksum. A synchronous pread: from the page cache it takes
   * microseconds and needs no turn of the event loop, which a training step on the same thread does not give (tfjs
   * kernels are synchronous), so a batch read ahead of the step is ready when the step ends.
   */
  readNow(row: number, target: Uint8Array, offset: number): boolean | undefined {
    if (!this.has(row) || this.renaming) return undefined;
    const { stride } = this.header;
    const view = target.subarray(offset, offset + stride);
    const bytesRead = readSync(this.handle.fd, view, 0, stride, this.dataOffset + row * stride);
    if (bytesRead === stride && crc32(view) === this.crcs[row]) return true;
    this.log(`image cache ${this.path}: row ${row} (${this.header.files[row]?.[0]}) failed its checksum; decoding the source`);
    return false;
  }

  /** Writes row `row` (while building); once every row is written, the cache is finished and renamed into place. */
  async write(row: number, bytes: Uint8Array): Promise<void> {
    if (this.building === undefined || this.broken || this.written[row] !== 0) return;
    this.written[row] = 2; // being written: a concurrent read of the same row decodes it, a second write skips it
    await this.handle.write(bytes, 0, bytes.length, this.dataOffset + row * this.header.stride);
    this.crcs[row] = crc32(bytes);
    this.written[row] = 1;
    this.missing -= 1;
    if (this.missing === 0) {
      this.renaming = true;
      this.finishing = this.finish().then(
        () => {
          this.renaming = false;
        },
        async (error: unknown) => {
          this.broken = true;
          this.written.fill(0);
          this.renaming = false;
          await this.handle.close().catch(() => undefined);
          await this.building?.fileSystem.remove(this.building.temporary).catch(() => undefined);
          this.log(`image cache ${this.path} could not be finished (${(error as Error).message}); reading from the sources`);
        },
      );
      await this.finishing;
    }
  }

  /** Waits for a finishing rename, if one is under way. */
  async settled(): Promise<void> {
    await this.finishing;
  }

  /** Closes the file; an unfinished cache's temporary file is removed. */
  async close(): Promise<void> {
    await this.finishing?.catch(() => undefined);
    await this.handle.close().catch(() => undefined);
    if (this.building !== undefined && this.missing > 0 && !this.broken) await this.building.fileSystem.remove(this.building.temporary);
  }

  private async finish(): Promise<void> {
    const building = this.building!;
    const { json } = building;
    const parts = layout(json.length, this.header.count, this.header.stride);
    const head = Buffer.alloc(parts.check + 4);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(json.length, 8);
    json.copy(head, 12);
    for (let i = 0; i < this.crcs.length; i++) head.writeUInt32LE(this.crcs[i] as number, parts.table + 4 * i);
    head.writeUInt32LE(crc32(head.subarray(0, parts.check)), parts.check);
    await this.handle.write(head, 0, head.length, 0);
    await this.handle.sync();
    await this.handle.close();
    await building.fileSystem.rename(building.temporary, this.path);
    await building.fileSystem.syncDirectory(dirname(this.path));
    this.handle = await open(this.path, 'r');
    this.finished = true;
    this.log(`image cache ${basename(this.path)} complete: ${this.header.count} images of ${describeShape(this.header.shape)}`);
  }
}
