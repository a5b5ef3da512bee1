import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Hex } from './download.js';
import { encodeIdx } from './idx.js';
import { MNIST_BASE_URL, MNIST_CHECKSUMS, MNIST_CLASS_NAMES, loadMnist } from './mnist.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-mnist-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Gzipped IDX files for a split: `count` 2×2 images whose bytes are the index. */
function fakeSplit(count: number, prefix: string): Record<string, Uint8Array> {
  const images = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) images.fill(i, i * 4, i * 4 + 4);
  return {
    [`${prefix}-images-idx3-ubyte.gz`]: gzipSync(encodeIdx({ dims: [count, 2, 2], data: images })),
    [`${prefix}-labels-idx1-ubyte.gz`]: gzipSync(encodeIdx({ dims: [count], data: Uint8Array.from({ length: count }, (_, i) => (i * 3) % 10) })),
  };
}

function fakeFetch(files: Record<string, Uint8Array>) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    const body = url.startsWith(MNIST_BASE_URL) ? files[url.slice(MNIST_BASE_URL.length)] : undefined;
    return body === undefined ? new Response('missing', { status: 404, statusText: 'Not Found' }) : new Response(body);
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}

describe('loadMnist', () => {
  it('downloads from the official address into <cache>/mnist, then reuses the cache', async () => {
    const files = fakeSplit(5, 'train');
    const checksums = Object.fromEntries(Object.entries(files).map(([name, body]) => [name, md5Hex(body)]));
    const server = fakeFetch(files);
    const cacheDir = join(root, 'cache');
    const options = { split: 'train' as const, cacheDir, checksums, fetch: server.fetch, env: {}, log: false as const };
    const ds = await loadMnist(options);
    expect(server.calls).toEqual([`${MNIST_BASE_URL}train-images-idx3-ubyte.gz`, `${MNIST_BASE_URL}train-labels-idx1-ubyte.gz`]);
    expect(ds.length).toBe(5);
    expect(ds.shape).toEqual([2, 2, 1]);
    expect(ds.classNames).toEqual(MNIST_CLASS_NAMES);
    expect(Array.from(ds.labels)).toEqual([0, 3, 6, 9, 2]);
    expect(ds.images[3 * 4 + 2]).toBe(3);
    expect(ds.source).toBe(join(cacheDir, 'mnist'));
    await loadMnist(options);
    expect(server.calls).toHaveLength(2);
  });

  it('prefers dir, then $CONVKIT_DATA_DIR/mnist, and never fetches when found', async () => {
    const dataDir = join(root, 'data');
    await mkdir(join(dataDir, 'mnist'), { recursive: true });
    for (const [name, body] of Object.entries(fakeSplit(3, 't10k'))) await writeFile(join(dataDir, 'mnist', name), body);
    const server = fakeFetch({});
    const fromEnv = await loadMnist({ split: 'test', env: { CONVKIT_DATA_DIR: dataDir }, cacheDir: join(root, 'c2'), fetch: server.fetch, log: false });
    expect(fromEnv.length).toBe(3);
    expect(fromEnv.source).toBe(join(dataDir, 'mnist'));
    const own = join(root, 'own');
    await mkdir(own);
    for (const [name, body] of Object.entries(fakeSplit(2, 't10k'))) await writeFile(join(own, name), body);
    const fromDir = await loadMnist({ split: 'test', dir: own, env: { CONVKIT_DATA_DIR: dataDir }, fetch: server.fetch, log: false });
    expect(fromDir.length).toBe(2);
    expect(server.calls).toEqual([]);
  });

  it('checks the official MD5 by default and searches no system folder', async () => {
    const files = fakeSplit(2, 't10k');
    const attempt = loadMnist({ split: 'test', cacheDir: join(root, 'c3'), fetch: fakeFetch(files).fetch, env: {}, log: false });
    await expect(attempt).rejects.toThrow(
      `expected MD5 ${MNIST_CHECKSUMS['t10k-images-idx3-ubyte.gz']}, received ${md5Hex(files['t10k-images-idx3-ubyte.gz'] as Uint8Array)}`,
    );
    await expect(attempt).rejects.not.toThrow('system folder');
  });

  it('rejects an unknown split', async () => {
    await expect(loadMnist({ split: 'valid' as 'test' })).rejects.toThrow(`split must be 'train' or 'test' (received "valid")`);
  });
});
