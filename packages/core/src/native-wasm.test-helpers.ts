// Vitest hooks shared by the test files that run on wasm with @convkit/native's oneDNN kernels.
import { afterAll, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadNative } from '@convkit/native';
import './wasm-backend.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';
import { registerWasmOptimizerKernels } from './wasm-optimizer-kernels.js';
import { registerNativeKernels, unregisterNativeKernels } from './wasm-native.js';

/**
 * Before the file's tests: the wasm backend with convkit's wasm kernels and oneDNN's on `threads` threads, as
 * `initBackend` sets them up; after them, oneDNN's kernels taken off again.
 */
export function useWasmWithNative(threads = 2): void {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    registerWasmOptimizerKernels();
    registerNativeKernels(loadNative(), threads);
  });
  afterAll(() => {
    unregisterNativeKernels();
  });
}
