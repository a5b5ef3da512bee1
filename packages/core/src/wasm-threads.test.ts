import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { wasmCacheDir, writeWorkerScript } from './wasm-threads.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const viteNode = join(packageDir, '..', '..', 'node_modules', '.bin', 'vite-node');

interface FixtureResult {
  threads: number;
  wasmThreads: number;
  nativeThreads: number | null;
  used: boolean | undefined;
  leaked: number;
  gradients: number[][];
}

const scratch = mkdtempSync(join(tmpdir(), 'convkit-threads-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
/** The fixtures' system temp folder and convkit cache, to see what a run leaves behind. */
const fixtureTmp = join(scratch, 'tmp');
const fixtureCache = join(scratch, 'cache');

/** Runs test/threads-fixture.ts in a fresh process with the given wasm thread count. */
async function runFixture(threads: number, native = false): Promise<FixtureResult> {
  const { stdout } = await promisify(execFile)(viteNode, [join('test', 'threads-fixture.ts'), String(threads), ...(native ? ['native'] : [])], {
    cwd: packageDir,
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: fixtureTmp, CONVKIT_CACHE_DIR: fixtureCache },
    timeout: 150_000, // two fresh processes side by side; slow when turbo runs other packages' tests at once
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as FixtureResult;
}

describe('initBackend: wasm threads in Node', () => {
  it('starts the multithreaded wasm build with the requested threads, and its gradients equal the single-threaded ones', async () => {
    mkdirSync(fixtureTmp); // the folder exists, as a system temp folder does
    const [single, double] = await Promise.all([runFixture(1), runFixture(2)]);
    // The threaded run wrote its worker script once into the cache, and left no convkit-wasm-* folder in TMPDIR.
    expect(readdirSync(fixtureTmp).filter((name) => name.startsWith('convkit-wasm-'))).toEqual([]);
    expect(readdirSync(join(fixtureCache, 'wasm'))).toEqual([expect.stringMatching(/^tfjs-backend-wasm-threaded-simd\.worker\.[0-9a-f]{16}\.cjs$/)]);
    expect(single.threads).toBe(1);
    expect(double.threads).toBe(2);
    expect(double.wasmThreads).toBe(2);
    expect(single.leaked).toBe(0);
    expect(double.leaked).toBe(0);
    expect(double.gradients.length).toBe(4);
    double.gradients.forEach((values, i) => {
      const reference = single.gradients[i] as number[];
      expect(values.length).toBe(reference.length);
      const scale = Math.max(...reference.map(Math.abs));
      const worst = Math.max(...values.map((v, j) => Math.abs(v - (reference[j] as number))));
      expect(scale).toBeGreaterThan(0);
      expect(worst / scale, `gradient ${i}`).toBeLessThan(1e-6);
    });
  }, 180_000);

  it('with oneDNN, gives the threads to oneDNN and runs the wasm build on one (two pools on the same cores slow each other)', async () => {
    const [wasmOnly, withNative] = await Promise.all([runFixture(2), runFixture(2, true)]);
    expect(withNative.used).toBe(true);
    expect(withNative.threads).toBe(2);
    expect(withNative.nativeThreads).toBe(2);
    expect(withNative.wasmThreads).toBe(1);
    expect(withNative.leaked).toBe(0);
    withNative.gradients.forEach((values, i) => {
      const reference = wasmOnly.gradients[i] as number[];
      const scale = Math.max(...reference.map(Math.abs));
      const worst = Math.max(...values.map((v, j) => Math.abs(v - (reference[j] as number))));
      expect(worst / scale, `gradient ${i}`).toBeLessThan(1e-5);
    });
  }, 180_000);
});

describe('writeWorkerScript', () => {
  it('writes a script once under a name made from its content, reuses it, and repairs a damaged copy', () => {
    const cache = join(scratch, 'reuse');
    const first = writeWorkerScript('postMessage(1);', cache);
    expect(dirname(first)).toBe(cache);
    const written = statSync(first);
    expect(writeWorkerScript('postMessage(1);', cache)).toBe(first);
    const reused = statSync(first);
    expect([reused.ino, reused.mtimeMs]).toEqual([written.ino, written.mtimeMs]); // not written again
    writeFileSync(first, 'postMess'); // as a crash half-way through a write would leave it
    expect(writeWorkerScript('postMessage(1);', cache)).toBe(first);
    expect(readFileSync(first, 'utf8')).toBe('postMessage(1);');
    const other = writeWorkerScript('postMessage(2);', cache);
    expect(other).not.toBe(first);
    expect(readFileSync(other, 'utf8')).toBe('postMessage(2);');
    expect(readdirSync(cache).sort()).toEqual([first, other].map((path) => path.slice(cache.length + 1)).sort());
  });

  it('falls back to a temporary folder when the cache cannot be written', () => {
    const notAFolder = join(scratch, 'file');
    writeFileSync(notAFolder, '');
    const path = writeWorkerScript('postMessage(3);', join(notAFolder, 'wasm'));
    expect(path.startsWith(join(tmpdir(), 'convkit-wasm-'))).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('postMessage(3);');
    rmSync(dirname(path), { recursive: true, force: true });
  });
});

describe('wasmCacheDir', () => {
  it('is CONVKIT_CACHE_DIR/wasm, else XDG_CACHE_HOME/convkit/wasm, else ~/.cache/convkit/wasm', () => {
    expect(wasmCacheDir({ CONVKIT_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe(join('/c', 'wasm'));
    expect(wasmCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe(join('/x', 'convkit', 'wasm'));
    expect(wasmCacheDir({ HOME: '/h' })).toBe(join('/h', '.cache', 'convkit', 'wasm'));
  });
});
