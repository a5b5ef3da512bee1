import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// oneDNN 2.6's dnnl_sgemm, interrupted by a signal handler on its thread, corrupted the heap: `node --cpu-prof` (a
// SIGPROF to the main thread every millisecond) over a loop of matMul calls aborted in glibc's free ("corrupted size
// vs. prev_size", "free(): invalid pointer") within 2 s, six times out of six, on an AVX-512 Xeon. matMul now holds
// asynchronous signals back for the call.
const entry = fileURLToPath(new URL('./index.ts', import.meta.url)).replace(/src[\\/]index\.ts$/, 'dist/index.js');
const script = `
const { loadNative } = await import(${JSON.stringify(entry)});
const native = loadNative();
native.setThreads(1);
const fill = (n) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
const a = fill(64 * 3136), b = fill(3136 * 128), c = new Float32Array(64 * 128);
const started = performance.now();
let calls = 0;
while (performance.now() - started < 2500) { native.matMul(1, 64, 128, 3136, false, false, a, 0, b, 0, c); calls++; }
console.log('calls', calls, 'c[0]', c[0].toFixed(4));
`;

describe('signals during native calls', () => {
  it('matMul survives `node --cpu-prof` sampling it for 2.5 s (SIGPROF every millisecond)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'convkit-cpu-prof-'));
    try {
      const child = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      expect(child.stderr).not.toMatch(/corrupted|free\(\)|double free|malloc\(\)/);
      expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
      expect(child.stdout).toMatch(/^calls \d+ c\[0\] -?\d+\.\d{4}$/m);
      expect(readdirSync(dir).some((file) => file.endsWith('.cpuprofile'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
