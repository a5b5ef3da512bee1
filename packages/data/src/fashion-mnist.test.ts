import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classCounts } from './dataset.js';
import { md5Hex } from './download.js';
import {
  FASHION_MNIST_CHECKSUMS,
  FASHION_MNIST_CLASS_NAMES,
  loadFashionMnist,
} from './fashion-mnist.js';
import { encodeIdx } from './idx.js';
import { datasetCacheDir, loadIdxDataset } from './load-idx-dataset.js';

const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-fashion-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Small gzipped IDX files standing in for a split: `count` 3×2 images whose first byte is the index. */
function fakeSplit(count: number, prefix: string): Record<string, Uint8Array> {
  const images = new Uint8Array(count * 6);
  for (let i = 0; i < count; i++) images.fill(i, i * 6, i * 6 + 6);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return {
    [`${prefix}-images-idx3-ubyte.gz`]: gzipSync(encodeIdx({ dims: [count, 3, 2], data: images })),
    [`${prefix}-labels-idx1-ubyte.gz`]: gzipSync(encodeIdx({ dims: [count], data: labels })),
  };
}

/** A fetch that serves `files` under `base` and records every URL asked for. */
function fakeFetch(files: Record<string, Uint8Array>, base: string) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    const name = url.startsWith(base) ? url.slice(base.length) : '';
    const body = files[name];
    return body === undefined ? new Response('no such key', { status: 404, statusText: 'Not Found' }) : new Response(body);
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}

const nowhere = { systemDirs: [] as string[], env: {}, log: false as const };

describe('loadFashionMnist', () => {
  it('loads the real train split from the Debian package folder', async () => {
    const train = await loadFashionMnist({ split: 'train', env: {}, cacheDir: join(root, 'unused'), download: false, log: false });
    expect(train.length).toBe(60000);
    expect(train.shape).toEqual([28, 28, 1]);
    expect(train.numClasses).toBe(10);
    expect(train.classNames).toEqual(FASHION_MNIST_CLASS_NAMES);
    expect(train.source).toBe(DEBIAN_DIR);
    expect(classCounts(train)).toEqual(new Array(10).fill(6000));
    // Reference values read from the same files with Python's gzip module.
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(train.images.subarray(0, 784).reduce((a, b) => a + b, 0)).toBe(76247);
  });

  it('loads the real test split, 1000 per class', async () => {
    const logged: string[] = [];
    const test = await loadFashionMnist({ split: 'test', env: {}, download: false, log: (line) => logged.push(line) });
    expect(test.length).toBe(10000);
    expect(classCounts(test)).toEqual(new Array(10).fill(1000));
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect(test.images.subarray(9999 * 784).reduce((a, b) => a + b, 0)).toBe(24390);
    expect(logged).toEqual([`fashion-mnist: 10000 images 28×28×1 from ${DEBIAN_DIR}`]);
  });

  it('prefers the dir option, then $CONVKIT_DATA_DIR/fashion-mnist, over the system folder', async () => {
    const dataDir = join(root, 'data-dir');
    await mkdir(join(dataDir, 'fashion-mnist'), { recursive: true });
    for (const [name, body] of Object.entries(fakeSplit(7, 't10k'))) await writeFile(join(dataDir, 'fashion-mnist', name), body);
    const fromEnv = await loadFashionMnist({ split: 'test', env: { CONVKIT_DATA_DIR: dataDir }, download: false, log: false });
    expect(fromEnv.length).toBe(7);
    expect(fromEnv.source).toBe(join(dataDir, 'fashion-mnist'));

    const own = join(root, 'own-dir');
    await mkdir(own);
    // Uncompressed files without the .gz suffix are accepted too.
    for (const [name, body] of Object.entries(fakeSplit(5, 't10k'))) {
      await writeFile(join(own, name.replace(/\.gz$/, '')), body);
    }
    const fromDir = await loadFashionMnist({ split: 'test', dir: own, env: { CONVKIT_DATA_DIR: dataDir }, log: false });
    expect(fromDir.length).toBe(5);
    expect(fromDir.source).toBe(own);
  });

  it('says where it looked and how to install the data when download is false', async () => {
    const cacheDir = join(root, 'empty-cache');
    const attempt = loadFashionMnist({ split: 'train', dir: join(root, 'nope'), cacheDir, download: false, ...nowhere });
    await expect(attempt).rejects.toThrow(
      [
        'fashion-mnist: train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz not found, and download is false.',
        'Looked in:',
        `  - dir option (${join(root, 'nope')}): missing train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz`,
        '  - $CONVKIT_DATA_DIR: not set',
        `  - cache (${join(cacheDir, 'fashion-mnist')}): missing train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz`,
        'Put train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz in one of these folders, ' +
          'install the Debian package (sudo apt-get install dataset-fashion-mnist), or allow downloading (download: true).',
      ].join('\n'),
    );
  });

  it('rejects an unknown split', async () => {
    await expect(loadFashionMnist({ split: 'valid' as 'train' })).rejects.toThrow(
      `split must be 'train' or 'test' (received "valid")`,
    );
  });
});

describe('loadIdxDataset (download and cache)', () => {
  const base = 'https://example.test/fashion/';

  it('downloads into the cache with verified checksums, then serves later calls from the cache', async () => {
    const files = fakeSplit(12, 'train');
    const checksums = Object.fromEntries(Object.entries(files).map(([name, body]) => [name, md5Hex(body)]));
    const server = fakeFetch(files, base);
    const cacheDir = join(root, 'cache-ok');
    const logged: string[] = [];
    const options = { split: 'train' as const, cacheDir, baseUrl: base, checksums, fetch: server.fetch, systemDirs: [], env: {} };
    const first = await loadFashionMnist({ ...options, log: (line) => logged.push(line) });
    expect(first.length).toBe(12);
    expect(Array.from(first.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(first.images[11 * 6]).toBe(11);
    expect(server.calls).toEqual([`${base}train-images-idx3-ubyte.gz`, `${base}train-labels-idx1-ubyte.gz`]);
    const cached = join(cacheDir, 'fashion-mnist');
    expect(first.source).toBe(cached);
    expect((await readdir(cached)).sort()).toEqual(['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
    expect(logged[0]).toBe(`fashion-mnist: downloading ${base}train-images-idx3-ubyte.gz into ${cached}`);
    expect(logged[1]).toMatch(/^fashion-mnist: saved train-images-idx3-ubyte.gz \(0\.0 MB, MD5 verified\)$/);

    const second = await loadFashionMnist({ ...options, log: false });
    expect(server.calls).toHaveLength(2); // no new fetch
    expect(Array.from(second.images)).toEqual(Array.from(first.images));
  });

  it('fails on a checksum mismatch and leaves no file in the cache', async () => {
    const files = fakeSplit(3, 't10k');
    const server = fakeFetch(files, base);
    const cacheDir = join(root, 'cache-bad');
    const attempt = loadFashionMnist({ split: 'test', cacheDir, baseUrl: base, fetch: server.fetch, ...nowhere });
    const actual = md5Hex(files['t10k-images-idx3-ubyte.gz'] as Uint8Array);
    await expect(attempt).rejects.toThrow(
      `checksum mismatch for ${base}t10k-images-idx3-ubyte.gz: expected MD5 ${FASHION_MNIST_CHECKSUMS['t10k-images-idx3-ubyte.gz']}, received ${actual}`,
    );
    await expect(attempt).rejects.toThrow('install the Debian package (sudo apt-get install dataset-fashion-mnist)');
    const cached = join(cacheDir, 'fashion-mnist');
    expect(existsSync(cached) ? await readdir(cached) : []).toEqual([]);
  });

  it('reports HTTP and network errors with the search list', async () => {
    const server = fakeFetch({}, base);
    const cacheDir = join(root, 'cache-404');
    await expect(
      loadIdxDataset({ name: 'tiny', files: { images: 'i.gz', labels: 'l.gz' }, cacheDir, baseUrl: base, fetch: server.fetch, ...nowhere }),
    ).rejects.toThrow(`tiny: i.gz and l.gz not found locally, and download of ${base}i.gz failed: HTTP 404 Not Found.\nLooked in:`);
    const offline = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await expect(
      loadIdxDataset({ name: 'tiny', files: { images: 'i.gz', labels: 'l.gz' }, cacheDir, baseUrl: base, fetch: offline, ...nowhere }),
    ).rejects.toThrow(`download of ${base}i.gz failed: fetch failed`);
  });

  it('downloads only the files missing from the cache', async () => {
    const files = fakeSplit(4, 'train');
    const cacheDir = join(root, 'cache-partial');
    await mkdir(join(cacheDir, 'tiny'), { recursive: true });
    await writeFile(join(cacheDir, 'tiny', 'train-labels-idx1-ubyte.gz'), files['train-labels-idx1-ubyte.gz'] as Uint8Array);
    const server = fakeFetch(files, base);
    const ds = await loadIdxDataset({
      name: 'tiny',
      files: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
      cacheDir,
      baseUrl: base.slice(0, -1), // a base without the trailing slash works too
      fetch: server.fetch,
      ...nowhere,
    });
    expect(ds.length).toBe(4);
    expect(server.calls).toEqual([`${base}train-images-idx3-ubyte.gz`]);
  });
});

describe('datasetCacheDir', () => {
  it('uses cacheDir, then $XDG_CACHE_HOME/convkit, then $HOME/.cache/convkit', () => {
    expect(datasetCacheDir('x', { cacheDir: '/c' })).toBe('/c/x');
    expect(datasetCacheDir('x', { env: { XDG_CACHE_HOME: '/xdg', HOME: '/home/u' } })).toBe('/xdg/convkit/x');
    expect(datasetCacheDir('x', { env: { HOME: '/home/u' } })).toBe('/home/u/.cache/convkit/x');
  });
});
