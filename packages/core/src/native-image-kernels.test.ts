import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadNative } from '@convkit/native';
import { useWasmWithNative } from './native-wasm.test-helpers.js';
import { installCpuKernels } from './cpu-kernels.js';
import { kernelServedBy, listKernelProviders, withKernelProviders } from './kernel-registry.js';
import { NATIVE_IMAGE_PROVIDER_NAME, registerNativeImageKernels, unregisterNativeImageKernels } from './native-image-kernels.js';
import { createRng } from './rng.js';
import { expectNoLeak } from './testing.js';

useWasmWithNative();

const rng = createRng(77);

type Interpolation = 'nearest' | 'bilinear';
type FillMode = 'constant' | 'reflect' | 'wrap' | 'nearest';

interface Case {
  shape: [number, number, number, number];
  /** Rows of 8 (one per image, or one for all). */
  maps: number[][];
  interpolation: Interpolation;
  fillMode: FillMode;
  fillValue: number;
  outputShape?: [number, number];
}

/** A random inverse map about the image centre: rotation, zoom, shift, and (when `projective`) a perspective term. */
function randomMap(height: number, width: number, projective: boolean): number[] {
  const angle = rng.uniform(-0.6, 0.6);
  const scale = rng.uniform(0.7, 1.4);
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const cx = width / 2 + rng.uniform(-3, 3);
  const cy = height / 2 + rng.uniform(-3, 3);
  const c0 = projective ? rng.uniform(-0.01, 0.01) : 0;
  const c1 = projective ? rng.uniform(-0.01, 0.01) : 0;
  return [cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy, c0, c1];
}

function randomCase(index: number): Case {
  const batch = 1 + (index % 4);
  const height = 5 + Math.floor(rng.next() * 20);
  const width = 5 + Math.floor(rng.next() * 20);
  const channels = [1, 3, 4][index % 3]!;
  const shared = index % 5 === 4;
  const maps = Array.from({ length: shared ? 1 : batch }, () => randomMap(height, width, index % 2 === 1));
  return {
    shape: [batch, height, width, channels],
    maps,
    interpolation: index % 4 === 3 ? 'nearest' : 'bilinear',
    fillMode: index % 3 === 2 ? 'nearest' : 'constant',
    fillValue: index % 2 === 0 ? 0 : 7.5,
    ...(index % 6 === 5 ? { outputShape: [height + 3, Math.max(1, width - 2)] as [number, number] } : {}),
  };
}

function imageValues(shape: readonly number[]): Float32Array {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = Math.round(rng.uniform(0, 255) * 4) / 4 + rng.uniform(-0.01, 0.01);
  return values;
}

async function transformed(c: Case, image: Float32Array): Promise<Float32Array> {
  const out = tf.tidy(() => tf.image.transform(tf.tensor4d(image, c.shape), tf.tensor2d(c.maps), c.interpolation, c.fillMode, c.fillValue, c.outputShape));
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

const CASES = Array.from({ length: 24 }, (_, i) => randomCase(i));

describe('registerNativeImageKernels: Transform through @convkit/native', () => {
  it('serves Transform on wasm, under its own provider name', () => {
    expect(kernelServedBy('wasm', 'Transform')).toBe(NATIVE_IMAGE_PROVIDER_NAME);
    const provider = listKernelProviders().find((p) => p.name === NATIVE_IMAGE_PROVIDER_NAME);
    expect(provider).toMatchObject({ label: 'convkit-native', backend: 'wasm', status: 'active', kernels: ['Transform'] });
  });

  it.each(CASES.map((c, i) => [i, c] as const))('case %i: bit for bit the wasm kernel it replaces', async (_, c) => {
    const image = imageValues(c.shape);
    const native = await expectNoLeak(() => transformed(c, image));
    const stock = await withKernelProviders({ disable: [NATIVE_IMAGE_PROVIDER_NAME] }, () => transformed(c, image));
    expect(native.length).toBe(c.shape[0] * (c.outputShape?.[0] ?? c.shape[1]) * (c.outputShape?.[1] ?? c.shape[2]) * c.shape[3]);
    expect(Array.from(native)).toEqual(Array.from(stock));
    // Not a copy of the input or a constant: the map moved pixels, and some points fell inside the image.
    expect(new Set(native).size).toBeGreaterThan(c.shape[3]);
  });

  it('agrees with the cpu backend (float64 arithmetic) to float32 rounding', async () => {
    for (const c of CASES.filter((k) => k.interpolation === 'bilinear' && k.fillMode === 'constant')) {
      const image = imageValues(c.shape);
      const native = await transformed(c, image);
      await tf.setBackend('cpu');
      installCpuKernels();
      const cpu = await transformed(c, image);
      await tf.setBackend('wasm');
      let worst = 0;
      for (let i = 0; i < native.length; i++) worst = Math.max(worst, Math.abs(native[i]! - cpu[i]!));
      expect(worst).toBeLessThan(1e-3);
    }
  });

  it('matches an analytic mirror and shift exactly', async () => {
    const [h, w, ch] = [4, 5, 2];
    const image = Float32Array.from({ length: h * w * ch }, (_, i) => i + 0.5);
    const mirror: Case = { shape: [1, h, w, ch], maps: [[-1, 0, w - 1, 0, 1, 0, 0, 0]], interpolation: 'bilinear', fillMode: 'constant', fillValue: 0 };
    const mirrored = await transformed(mirror, image);
    const shift: Case = { shape: [1, h, w, ch], maps: [[1, 0, 1, 0, 1, 0, 0, 0]], interpolation: 'bilinear', fillMode: 'constant', fillValue: -1 };
    const shifted = await transformed(shift, image);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < ch; c++) {
          expect(mirrored[(y * w + x) * ch + c]).toBe(image[(y * w + (w - 1 - x)) * ch + c]);
          expect(shifted[(y * w + x) * ch + c]).toBe(x + 1 < w ? image[(y * w + x + 1) * ch + c] : -1);
        }
      }
    }
  });

  it("leaves 'reflect' and 'wrap' to tfjs's kernel (the addon refuses them)", async () => {
    const c: Case = { shape: [2, 6, 7, 3], maps: [randomMap(6, 7, false), randomMap(6, 7, false)], interpolation: 'bilinear', fillMode: 'reflect', fillValue: 0 };
    const image = imageValues(c.shape);
    for (const fillMode of ['reflect', 'wrap'] as const) {
      const native = await transformed({ ...c, fillMode }, image);
      const stock = await withKernelProviders({ disable: [NATIVE_IMAGE_PROVIDER_NAME] }, () => transformed({ ...c, fillMode }, image));
      expect(Array.from(native)).toEqual(Array.from(stock));
    }
    expect(() => loadNative().transformImages!(image, c.shape, Float32Array.from(c.maps.flat()), { fillMode: 'reflect' as 'constant' }, new Float32Array(image.length))).toThrow(
      "transformImages: options.fillMode must be 'constant' or 'nearest' (received reflect)",
    );
  });

  it('unregisters, and declines an addon without transformImages with a reason', () => {
    unregisterNativeImageKernels();
    expect(kernelServedBy('wasm', 'Transform')).toBe('stock');
    expect(registerNativeImageKernels({})).toBe(false);
    const declined = listKernelProviders().find((p) => p.name === NATIVE_IMAGE_PROVIDER_NAME);
    expect(declined?.status).toBe('declined');
    expect(declined?.reason).toContain('predates transformImages');
    expect(kernelServedBy('wasm', 'Transform')).toBe('stock');
    expect(registerNativeImageKernels(loadNative())).toBe(true);
    expect(kernelServedBy('wasm', 'Transform')).toBe(NATIVE_IMAGE_PROVIDER_NAME);
  });
});
