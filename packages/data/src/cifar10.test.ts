import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASS_NAMES, CIFAR10_URL, loadCifar10 } from './cifar10.js';
import { md5Hex } from './download.js';
import { readTar } from './tar.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-cifar-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The red, green and blue value of pixel (y, x) of record `n` in the test batches. */
const red = (n: number, y: number, x: number): number => (n * 7 + y) % 256;
const green = (n: number, y: number, x: number): number => (100 + x * 3 + n) % 256;
const blue = (n: number, y: number, x: number): number => (y * 32 + x + n * 11) % 256;

/** A batch of `count` records, labels `first`, `first + 1`, …, in the planar R-G-B layout. */
function batch(count: number, first: number): Uint8Array {
  const bytes = new Uint8Array(count * 3073);
  for (let n = 0; n < count; n++) {
    const record = n * 3073;
    bytes[record] = (first + n) % 10;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        bytes[record + 1 + y * 32 + x] = red(first + n, y, x);
        bytes[record + 1 + 1024 + y * 32 + x] = green(first + n, y, x);
        bytes[record + 1 + 2048 + y * 32 + x] = blue(first + n, y, x);
      }
    }
  }
  return bytes;
}

/** A tar archive written by hand: a directory entry, then each file (header, data, padding), then two zero blocks. */
function tar(files: Record<string, Uint8Array>): Uint8Array {
  const blocks: Uint8Array[] = [];
  const header = (name: string, size: number, type: string): Uint8Array => {
    const h = new Uint8Array(512);
    h.set(new TextEncoder().encode(name), 0);
    h.set(new TextEncoder().encode(`${size.toString(8).padStart(11, '0')}\0`), 124);
    h[156] = type.charCodeAt(0);
    h.set(new TextEncoder().encode('ustar\x0000'), 257);
    return h;
  };
  blocks.push(header('cifar-10-batches-bin/', 0, '5'));
  for (const [name, data] of Object.entries(files)) {
    blocks.push(header(name, data.length, '0'), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((sum, b) => sum + b.length, 0));
  let offset = 0;
  for (const b of blocks) {
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

function archive(): Uint8Array {
  const files: Record<string, Uint8Array> = { 'cifar-10-batches-bin/batches.meta.txt': new TextEncoder().encode('airplane\n') };
  for (let i = 1; i <= 5; i++) files[`cifar-10-batches-bin/data_batch_${i}.bin`] = batch(i === 5 ? 1 : 2, i * 2);
  files['cifar-10-batches-bin/test_batch.bin'] = batch(3, 0);
  return gzipSync(tar(files));
}

function fakeFetch(body: Uint8Array) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    calls.push(String(input));
    return new Response(body);
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}

const quiet = { env: {}, log: false as const };

describe('loadCifar10', () => {
  it('converts planar RGB records into HWC images with their labels', async () => {
    const dir = join(root, 'plain');
    await mkdir(dir);
    await writeFile(join(dir, 'test_batch.bin'), batch(3, 4));
    const ds = await loadCifar10({ split: 'test', dir, download: false, ...quiet });
    expect(ds.length).toBe(3);
    expect(ds.shape).toEqual([32, 32, 3]);
    expect(ds.classNames).toEqual(CIFAR10_CLASS_NAMES);
    expect(Array.from(ds.labels)).toEqual([4, 5, 6]);
    for (const [n, y, x] of [[0, 0, 0], [1, 5, 17], [2, 31, 31], [2, 9, 0]] as const) {
      const at = ((n * 32 + y) * 32 + x) * 3;
      expect(Array.from(ds.images.subarray(at, at + 3))).toEqual([red(4 + n, y, x), green(4 + n, y, x), blue(4 + n, y, x)]);
    }
  });

  it('downloads, verifies and extracts the archive into the cache, then reuses it', async () => {
    const body = archive();
    const server = fakeFetch(body);
    const cacheDir = join(root, 'cache');
    const logged: string[] = [];
    const options = { cacheDir, md5: md5Hex(body), fetch: server.fetch, env: {} };
    const train = await loadCifar10({ ...options, split: 'train', log: (line) => logged.push(line) });
    expect(server.calls).toEqual([CIFAR10_URL]);
    expect(train.length).toBe(9);
    expect(Array.from(train.labels)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 0]);
    expect(train.images[(8 * 1024 + 3 * 32 + 2) * 3 + 2]).toBe(blue(10, 3, 2));
    const extracted = join(cacheDir, 'cifar-10', 'cifar-10-batches-bin');
    expect(train.source).toBe(extracted);
    expect((await readdir(join(cacheDir, 'cifar-10'))).sort()).toEqual(['cifar-10-batches-bin']);
    expect(logged[1]).toBe(`cifar-10: MD5 verified, extracted 6 batch files into ${extracted}`);
    const test = await loadCifar10({ ...options, split: 'test', log: false });
    expect(server.calls).toHaveLength(1);
    expect(Array.from(test.labels)).toEqual([0, 1, 2]);
  });

  it('rejects a checksum mismatch and leaves the cache empty', async () => {
    const cacheDir = join(root, 'bad');
    const body = archive();
    const attempt = loadCifar10({ split: 'test', cacheDir, fetch: fakeFetch(body).fetch, ...quiet });
    await expect(attempt).rejects.toThrow(`checksum mismatch for ${CIFAR10_URL}: expected MD5 c32a1d4ab5d03f1284b67883e8d87530, received ${md5Hex(body)}`);
    const cached = join(cacheDir, 'cifar-10');
    expect(existsSync(cached) ? await readdir(cached) : []).toEqual([]);
  });

  it('names a batch file whose size is not a multiple of 3073', async () => {
    const dir = join(root, 'short');
    await mkdir(join(dir, 'cifar-10-batches-bin'), { recursive: true });
    await writeFile(join(dir, 'cifar-10-batches-bin', 'test_batch.bin'), batch(2, 0).subarray(0, 5000));
    await expect(loadCifar10({ split: 'test', dir, download: false, ...quiet })).rejects.toThrow(
      `${join(dir, 'cifar-10-batches-bin', 'test_batch.bin')} must hold whole CIFAR-10 records of 3073 bytes (received 5000 bytes)`,
    );
  });

  it('lists where it looked when the files are missing', async () => {
    const cacheDir = join(root, 'none');
    await expect(loadCifar10({ split: 'train', dir: join(root, 'nope'), cacheDir, download: false, ...quiet })).rejects.toThrow(
      [
        'cifar-10: data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin not found, and download is false.',
        'Looked in:',
        `  - dir option (${join(root, 'nope')}): missing data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin`,
        '  - $CONVKIT_DATA_DIR: not set',
        `  - cache (${join(cacheDir, 'cifar-10')}): missing data_batch_1.bin`,
      ].join('\n'),
    );
    await expect(loadCifar10({ split: 'all' as 'train' })).rejects.toThrow(`split must be 'train' or 'test' (received "all")`);
  });
});

describe('readTar', () => {
  it('returns regular files with their bytes and skips directories', () => {
    const entries = readTar(tar({ 'a/b.txt': new Uint8Array([1, 2, 3]), 'c.bin': new Uint8Array(600).fill(9) }));
    expect(entries.map((e) => [e.name, e.data.length])).toEqual([['a/b.txt', 3], ['c.bin', 600]]);
    expect(Array.from(entries[0]?.data ?? [])).toEqual([1, 2, 3]);
    expect(entries[1]?.data.every((v) => v === 9)).toBe(true);
  });
});
