import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';
import { assertBackendHealthy, backendDeviceError, describeAdapter, isSoftwareAdapter, NO_ADAPTER, probeWebGpu, type WebGpuAdapterInfo } from './webgpu-backend.js';

const gpu = await probeWebGpu();

const LAVAPIPE: WebGpuAdapterInfo = {
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe-llvm-15-0-6-256-bits-',
  description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1',
  software: true,
  maxBufferSize: 4294967295,
  maxStorageBufferBindingSize: 134217728,
};

/** Waits (up to 5 s) for Dawn to deliver a device event. */
async function deviceError(): Promise<Error | undefined> {
  for (let waited = 0; waited < 5000 && backendDeviceError() === undefined; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  return backendDeviceError();
}

describe('WebGPU adapters', () => {
  it('tells software adapters (lavapipe, SwiftShader, fallback) from GPUs', () => {
    expect(isSoftwareAdapter(LAVAPIPE)).toBe(true);
    expect(isSoftwareAdapter({ architecture: '', device: 'swiftshader-device', description: 'SwiftShader driver' })).toBe(true);
    expect(isSoftwareAdapter({ architecture: '', device: 'x', description: 'y', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ architecture: 'ampere', device: 'nvidia-h100', description: 'NVIDIA: 550.54.15 550.54.15.0' })).toBe(false);
  });

  it('names an adapter with its driver and the limits that bound a tensor', () => {
    expect(describeAdapter(LAVAPIPE)).toBe(
      'mesa llvmpipe-llvm-15-0-6-256-bits (software; llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1; max buffer 4095 MiB, max storage binding 128 MiB)',
    );
    expect(describeAdapter({ ...LAVAPIPE, vendor: '', device: '', architecture: '', description: '' })).toBe(
      'unnamed adapter (architecture not reported; max buffer 4095 MiB, max storage binding 128 MiB)',
    );
  });
});

describe('a recorded device failure', () => {
  it('is not reported while tfjs runs on another backend (its tensors are not on the lost device)', async () => {
    await tf.setBackend('cpu');
    // The state webgpu-backend.ts keeps on the global object, as a lost device leaves it until initBackend replaces it.
    const state = (globalThis as unknown as Record<symbol, { failure?: Error; lost: boolean }>)[Symbol.for('convkit.webgpu-device')]!;
    const saved = { ...state };
    Object.assign(state, { failure: new Error('webgpu backend: the GPU device was lost (destroyed: test)'), lost: true });
    try {
      expect(backendDeviceError()).toBeUndefined();
      expect(() => assertBackendHealthy('step 1')).not.toThrow();
    } finally {
      Object.assign(state, saved);
    }
  });
});

// Test files share one process and one tfjs engine: leave the next file on cpu, not on webgpu.
afterAll(async () => {
  await tf.setBackend('cpu');
});

if (gpu.status === 'ok') {
  describe(`initBackend on webgpu (${describeAdapter(gpu.adapter)})`, () => {
    it('runs webgpu when forced, naming the adapter and the kernels, and reads data back without a sync read', async () => {
      const lines: string[] = [];
      const report = await initBackend({ log: (line) => lines.push(line), env: { CONVKIT_BACKEND: 'webgpu' } });
      expect(report.name).toBe('webgpu');
      expect(tf.getBackend()).toBe('webgpu');
      expect(report.adapter).toEqual(gpu.adapter);
      expect(lines).toEqual([
        `convkit: backend webgpu (adapter ${describeAdapter(gpu.adapter)}); kernels: convkit-webgpu 1, stock rest; forced by CONVKIT_BACKEND=webgpu`,
      ]);
      const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3.5])));
      expect(await sum.data()).toEqual(new Float32Array([6.5]));
      sum.dispose();
    });

    it("never picks a software adapter under 'auto'", async () => {
      const report = await initBackend({ log: false, env: {} });
      const attempt = report.attempts.find((a) => a.name === 'webgpu');
      if (gpu.adapter.software) {
        expect(report.name).not.toBe('webgpu');
        expect(attempt).toEqual({
          name: 'webgpu',
          status: 'declined',
          detail: `software adapter ${describeAdapter(gpu.adapter)}: wasm is faster; CONVKIT_BACKEND=webgpu forces it`,
        });
      } else {
        expect(report.name).toBe('webgpu');
      }
    });

    it('turns a failed buffer allocation into an error naming the backend and where', async () => {
      await initBackend({ backend: 'webgpu', log: false });
      expect(() => assertBackendHealthy('step 1')).not.toThrow();
      // One float more than a shader may bind: Dawn refuses the dispatch asynchronously, as it does an allocation.
      const big = tf.fill([gpu.adapter.maxStorageBufferBindingSize / 4 + 1], 1);
      const doubled = tf.mul(big, 2);
      tf.dispose([big, doubled]);
      expect((await deviceError())?.message).toMatch(/^webgpu backend: GPUValidationError: /);
      expect(() => assertBackendHealthy('step 3, tensor [33554433]')).toThrow(/^webgpu backend: GPUValidationError: .+ \(at step 3, tensor \[33554433\]\)$/);
      // Reported once: the device itself still works.
      expect(() => assertBackendHealthy('step 4')).not.toThrow();
    });

    it('reports a lost device, and initBackend brings webgpu back on a new one', async () => {
      await initBackend({ backend: 'webgpu', log: false });
      const backend = tf.backend() as unknown as { device: { destroy(): void } };
      backend.device.destroy();
      expect((await deviceError())?.message).toMatch(/^webgpu backend: the GPU device was lost \(destroyed: /);
      expect(() => assertBackendHealthy('step 7')).toThrow(/^webgpu backend: the GPU device was lost \(destroyed: .*\) \(at step 7\)$/);
      expect(() => assertBackendHealthy('step 8')).toThrow(/lost/);
      await initBackend({ backend: 'webgpu', log: false });
      expect(backendDeviceError()).toBeUndefined();
      const sum = tf.tidy(() => tf.sum(tf.tensor1d([2, 3])));
      expect(await sum.data()).toEqual(new Float32Array([5]));
      sum.dispose();
    });
  });
} else {
  describe('initBackend on webgpu', () => {
    it('is not run: Dawn offers no WebGPU adapter here', () => {
      console.log(`webgpu backend tests NOT RUN: ${gpu.detail}`);
      expect(gpu.status === 'no-adapter' ? gpu.detail : NO_ADAPTER).toBe(NO_ADAPTER);
    });
  });
}
