import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';
import { CUDA_LIBRARIES } from './cuda-libraries.js';
import type { RequireFunction } from './optional-package.js';
import { describeAdapter, probeWebGpu } from './webgpu-backend.js';

// What the webgpu rung finds here decides the ladder: a software adapter (lavapipe in CI) or none leaves wasm.
const gpu = await probeWebGpu();
const webgpuAttempt =
  gpu.status !== 'ok'
    ? { status: 'failed', text: `webgpu (${gpu.status === 'not-installed' ? 'not installed' : gpu.detail})` }
    : { status: 'declined', text: `webgpu (software adapter ${describeAdapter(gpu.adapter)}: wasm is faster; CONVKIT_BACKEND=webgpu forces it)` };

/** A fake `require` where the named packages resolve and loading them throws `error`. */
function brokenRequire(packages: Record<string, Error | object>): RequireFunction {
  const notFound = (id: string): Error =>
    Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- x.js`), { code: 'MODULE_NOT_FOUND' });
  const fake = (id: string): unknown => {
    const entry = packages[id];
    if (entry === undefined) throw notFound(id);
    if (entry instanceof Error) throw entry;
    return entry;
  };
  fake.resolve = (id: string): string => {
    if (packages[id] === undefined) throw notFound(id);
    return `/fake/node_modules/${id}/index.js`;
  };
  return fake;
}

describe('initBackend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('climbs the ladder to wasm here and says why it passed over the faster backends', async () => {
    // A hardware adapter would rightly win the ladder; this test describes machines without one (CI, this repo's).
    expect(gpu.status === 'ok' && !gpu.adapter.software, 'a hardware WebGPU adapter is present').toBe(false);
    const lines: string[] = [];
    const report = await initBackend({ log: (line) => lines.push(line), env: {} });
    expect(report.name).toBe('wasm');
    expect(report.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(report.threads).toBeGreaterThanOrEqual(1);
    expect(report.attempts.map((a) => [a.name, a.status])).toEqual([
      ['node-gpu', 'not-installed'],
      ['node', 'not-installed'],
      ['webgpu', webgpuAttempt.status],
      ['wasm', 'ok'],
      ['cpu', 'skipped'],
    ]);
    // @convkit/native is built in this repository (scripts/setup-system.sh installs libdnnl-dev).
    expect(report.native?.used).toBe(true);
    expect(lines).toEqual([
      `convkit: backend wasm (${report.threads} thread${report.threads === 1 ? '' : 's'}, ${report.native?.detail} kernels); ` +
        `kernels: oneDNN 20, convkit-wasm 10, convkit-native 3, stock rest; passed over: node-gpu (not installed: npm i @tensorflow/tfjs-node-gpu), node (not installed), ${webgpuAttempt.text}`,
    ]);
    expect(lines[0]).toBe(`convkit: ${report.summary}`);
  });

  it('registers the wasm gradient kernels, and a second call is harmless', async () => {
    await initBackend({ log: false, env: {} });
    const filterKernel = tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc;
    expect(filterKernel).toBeDefined();
    const report = await initBackend({ log: false, env: {}, threads: 1 });
    expect(report.name).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(filterKernel);
  });

  it('follows CONVKIT_BACKEND, and the backend option wins over it', async () => {
    const lines: string[] = [];
    const forced = await initBackend({ log: (line) => lines.push(line), env: { CONVKIT_BACKEND: 'cpu' } });
    expect(forced.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(forced.attempts.filter((a) => a.status === 'skipped').map((a) => a.name)).toEqual(['node-gpu', 'node', 'webgpu', 'wasm']);
    expect(lines).toEqual(['convkit: backend cpu (1 thread); kernels: convkit-cpu 4, stock rest; forced by CONVKIT_BACKEND=cpu']);
    const option = await initBackend({ backend: 'wasm', log: false, env: { CONVKIT_BACKEND: 'cpu' } });
    expect(option.name).toBe('wasm');
    expect(option.summary).toContain("forced by backend option 'wasm'");
  });

  it('throws with the install command when a forced backend is not installed', async () => {
    await expect(initBackend({ backend: 'node-gpu', log: false, env: {} })).rejects.toThrow(
      "backend 'node-gpu' was requested (backend option 'node-gpu') but @tensorflow/tfjs-node-gpu is not installed; install with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (needs Linux x64, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1",
    );
    await expect(initBackend({ log: false, env: { CONVKIT_BACKEND: 'webgpu' }, requireFunction: brokenRequire({}) })).rejects.toThrow(
      "backend 'webgpu' was requested (CONVKIT_BACKEND=webgpu) but @tensorflow/tfjs-backend-webgpu and webgpu are not installed; install with `npm install @tensorflow/tfjs-backend-webgpu@4.22.0 webgpu`",
    );
  });

  it('rejects unknown backend names and bad thread counts, listing what is valid', async () => {
    await expect(initBackend({ backend: 'gpu' as 'cpu', log: false, env: {} })).rejects.toThrow(
      'backend must be one of auto, node-gpu, node, webgpu, wasm, cpu (received "gpu")',
    );
    await expect(initBackend({ log: false, env: { CONVKIT_BACKEND: 'tensorflow' } })).rejects.toThrow(
      'CONVKIT_BACKEND must be one of auto, node-gpu, node, webgpu, wasm, cpu (received "tensorflow")',
    );
    await expect(initBackend({ threads: 0, log: false, env: {} })).rejects.toThrow('threads must be a positive integer (received 0)');
    await expect(initBackend({ log: false, env: { CONVKIT_THREADS: 'two' } })).rejects.toThrow("CONVKIT_THREADS must be a positive integer (received 'two')");
  });

  it('runs bf16 convolutions when asked and the CPU has them, says why not otherwise, and rejects other precisions', async () => {
    const { loadNative } = await import('@convkit/native');
    const native = loadNative();
    const bf16Cpu = ['avx512_core_bf16', 'avx512_core_amx'].includes(native.info().cpuIsa);
    try {
      const asked = await initBackend({ log: false, env: { CONVKIT_PRECISION: 'bf16' } });
      expect(asked.name).toBe('wasm');
      if (bf16Cpu) {
        expect(asked.precision).toBe('bf16');
        expect(asked.precisionNote).toBeUndefined();
        expect(asked.summary).toContain(' kernels, bf16 convolutions)');
        expect(native.getPrecision?.()).toBe('bf16');
        // A conv on wasm now rounds its inputs: 1 + 2^-10 is not a bf16 value, so 1·(1 + 2^-10) comes out as 1.
        const y = tf.tidy(() => tf.conv2d(tf.fill([1, 1, 1, 32], 1 + 2 ** -10) as tf.Tensor4D, tf.fill([1, 1, 32, 32], 1) as tf.Tensor4D, 1, 'same'));
        expect(Array.from(await y.data()).slice(0, 2)).toEqual([32, 32]);
        y.dispose();
      } else {
        expect(asked.precision).toBe('f32');
        expect(asked.precisionNote).toContain("precision 'bf16' needs a CPU with bf16 instructions");
        expect(asked.summary).toContain(', f32 (bf16 asked: ');
      }
      const off = await initBackend({ log: false, env: { CONVKIT_PRECISION: 'bf16' }, native: false });
      expect(off.precision).toBe('f32');
      expect(off.precisionNote).toBe("bf16 needs @convkit/native's oneDNN kernels (native kernels off)");
      const cpu = await initBackend({ log: false, backend: 'cpu', precision: 'bf16', env: {} });
      expect(cpu.precisionNote).toBe("bf16 runs only on wasm with @convkit/native's oneDNN kernels (backend cpu)");
      expect(cpu.summary).toContain("; f32 (bf16 asked: bf16 runs only on wasm with @convkit/native's oneDNN kernels (backend cpu))");
    } finally {
      const back = await initBackend({ log: false, env: {} });
      expect(back.precision).toBe('f32');
      expect(native.getPrecision?.()).toBe('f32');
    }
    const y = tf.tidy(() => tf.conv2d(tf.fill([1, 1, 1, 32], 1 + 2 ** -10) as tf.Tensor4D, tf.fill([1, 1, 32, 32], 1) as tf.Tensor4D, 1, 'same'));
    expect((await y.data())[0]).toBeCloseTo(32 * (1 + 2 ** -10), 5);
    y.dispose();
    await expect(initBackend({ log: false, env: { CONVKIT_PRECISION: 'fp16' } })).rejects.toThrow("CONVKIT_PRECISION must be 'f32' or 'bf16' (received 'fp16')");
    await expect(initBackend({ log: false, env: {}, precision: 'half' as 'bf16' })).rejects.toThrow("precision must be 'f32' or 'bf16' (received half)");
  });

  it("runs Winograd convolutions under the default 'auto' where the CPU has AVX-512, takes 'direct' and 'winograd' when asked, and rejects other settings", async () => {
    const { loadNative } = await import('@convkit/native');
    const native = loadNative();
    const avx512 = native.info().cpuIsa.startsWith('avx512');
    // 32 → 64 channels on 8×8: a convolution 'auto' runs with Winograd.
    const g = { batchSize: 2, inHeight: 8, inWidth: 8, inChannels: 32, outChannels: 64, filterHeight: 3, filterWidth: 3, outHeight: 8, outWidth: 8, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1, padInfo: { top: 1, left: 1, bottom: 1, right: 1 } };
    const x = tf.tidy(() => tf.randomUniform([2, 8, 8, 32], -1, 1, 'float32', 3)) as tf.Tensor4D;
    const w = tf.tidy(() => tf.randomUniform([3, 3, 32, 64], -1, 1, 'float32', 4)) as tf.Tensor4D;
    const convolve = async (): Promise<Float32Array> => {
      const y = tf.conv2d(x, w, 1, 'same');
      const values = (await y.data()) as Float32Array;
      y.dispose();
      return values;
    };
    try {
      const auto = await initBackend({ log: false, env: {} });
      expect(auto.convAlgorithm).toBe('auto');
      expect(auto.summary).not.toContain('convolutions)');
      expect(native.implementation('fwd', g)).toMatch(avx512 ? /wino/ : /^(?!.*wino)/);
      const fromAuto = await convolve();
      const direct = await initBackend({ log: false, env: { CONVKIT_CONV_ALGORITHM: 'direct' } });
      expect(direct.convAlgorithm).toBe('direct');
      expect(direct.summary).toContain(' kernels, direct convolutions)');
      expect(native.getConvAlgorithm?.()).toBe('direct');
      expect(native.implementation('fwd', g)).not.toMatch(/wino/);
      const fromDirect = await convolve();
      // The same convolution to float32 accuracy, by another algorithm where the CPU has Winograd.
      const scale = Math.max(...fromDirect.map(Math.abs));
      const worst = Math.max(...fromDirect.map((v, i) => Math.abs(v - (fromAuto[i] as number))));
      expect(worst / scale).toBeLessThan(5e-6);
      if (avx512) expect(worst).toBeGreaterThan(0);
      else expect(worst).toBe(0);
      const forced = await initBackend({ log: false, env: { CONVKIT_CONV_ALGORITHM: 'direct' }, convAlgorithm: 'winograd' });
      expect(forced.convAlgorithm).toBe('winograd');
      expect(forced.summary).toContain(' kernels, winograd convolutions)');
      const cpu = await initBackend({ log: false, backend: 'cpu', env: {} });
      expect(cpu.convAlgorithm).toBeUndefined();
    } finally {
      const back = await initBackend({ log: false, env: {} });
      expect(back.convAlgorithm).toBe('auto');
      x.dispose();
      w.dispose();
    }
    expect(native.getConvAlgorithm?.()).toBe('auto');
    await expect(initBackend({ log: false, env: { CONVKIT_CONV_ALGORITHM: 'fft' } })).rejects.toThrow("CONVKIT_CONV_ALGORITHM must be one of 'auto', 'direct', 'winograd' (received 'fft')");
    await expect(initBackend({ log: false, env: {}, convAlgorithm: 'fast' as 'auto' })).rejects.toThrow("convAlgorithm must be one of 'auto', 'direct', 'winograd' (received fast)");
  });

  it('tells "installed but failed to load" apart from "not installed"', async () => {
    const requireFunction = brokenRequire({
      '@tensorflow/tfjs-node-gpu': new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory\nat Module._extensions'),
      '@tensorflow/tfjs-node': Object.assign(new Error("Cannot find module '/x/lib/napi-v8/tfjs_binding.node'"), { code: 'MODULE_NOT_FOUND' }),
      webgpu: new Error('dawn.node: invalid ELF header'),
      '@tensorflow/tfjs-backend-webgpu': {},
    });
    const report = await initBackend({ log: false, env: {}, requireFunction });
    expect(report.name).toBe('wasm');
    const [nodeGpu, ...rest] = report.attempts.slice(0, 3);
    // The CUDA 11.2 / cuDNN 8.1 files libtensorflow needs and this machine lacks are named after the load error.
    expect(nodeGpu?.detail).toMatch(
      /^installed but failed to load: libcudart\.so\.11\.0: cannot open shared object file: No such file or directory(; missing CUDA 11\.2\/cuDNN 8\.1 libraries: (lib\w+\.so\.[\d.]+)(, lib\w+\.so\.[\d.]+)*)?$/,
    );
    expect(nodeGpu?.status).toBe('failed');
    expect(rest).toEqual([
      { name: 'node', status: 'failed', detail: "installed but failed to load: Cannot find module '/x/lib/napi-v8/tfjs_binding.node'" },
      { name: 'webgpu', status: 'failed', detail: 'webgpu installed but failed to load: dawn.node: invalid ELF header' },
    ]);
    expect(report.summary).toContain('passed over: node-gpu (installed but failed to load: libcudart.so.11.0');
    // With every library in LD_LIBRARY_PATH, nothing is said to be missing.
    const dir = mkdtempSync(join(tmpdir(), 'convkit-cuda-'));
    for (const file of CUDA_LIBRARIES) writeFileSync(join(dir, file), '');
    const found = await initBackend({ log: false, env: { LD_LIBRARY_PATH: dir }, requireFunction });
    rmSync(dir, { recursive: true, force: true });
    expect(found.attempts[0]?.detail).toBe('installed but failed to load: libcudart.so.11.0: cannot open shared object file: No such file or directory');
    await expect(initBackend({ backend: 'node', log: false, env: {}, requireFunction })).rejects.toThrow(
      "backend 'node' was requested (backend option 'node') but could not be used: installed but failed to load: Cannot find module",
    );
  });

  it('registers wasm below cpu, so importing @convkit/core leaves tfjs picking cpu by default', () => {
    const factories = (tf.engine() as unknown as { registryFactory: Record<string, { priority: number }> }).registryFactory;
    expect(factories['wasm']!.priority).toBeLessThan(factories['cpu']!.priority);
  });
});
