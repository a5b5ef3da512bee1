import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const viteNode = join(packageDir, '..', '..', 'node_modules', '.bin', 'vite-node');

interface FixtureResult {
  threads: number;
  leaked: number;
  gradients: number[][];
}

/** Runs test/threads-fixture.ts in a fresh process with the given wasm thread count. */
async function runFixture(threads: number): Promise<FixtureResult> {
  const { stdout } = await promisify(execFile)(viteNode, [join('test', 'threads-fixture.ts'), String(threads)], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 150_000, // two fresh processes side by side; slow when turbo runs other packages' tests at once
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as FixtureResult;
}

describe('initBackend: wasm threads in Node', () => {
  it('starts the multithreaded wasm build with the requested threads, and its gradients equal the single-threaded ones', async () => {
    const [single, double] = await Promise.all([runFixture(1), runFixture(2)]);
    expect(single.threads).toBe(1);
    expect(double.threads).toBe(2);
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
});
