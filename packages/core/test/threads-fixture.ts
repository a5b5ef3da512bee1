// Run by src/wasm-threads.test.ts in a fresh process (wasm's thread count is fixed at its first initialisation):
//   vite-node test/threads-fixture.ts <threads> [native]
// Prints JSON: the thread count the backend reports, the wasm build's and oneDNN's own, whether tensors leaked, and
// the gradients of a small CNN. Without `native` the oneDNN kernels are off (the multithreaded wasm build runs).
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { getThreadsCount } from '../src/wasm-backend.js';
import { createRng } from '../src/rng.js';

const threads = Number(process.argv[2]);
const native = process.argv[3] === 'native';
const report = await initBackend({ backend: 'wasm', threads, native, log: false, env: {} });
const nativeThreads = native ? (await import('@convkit/native')).loadNative().getThreads() : null;
const rng = createRng(5);
const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * 0.5);
const before = tf.memory().numTensors;
const gradients = tf.tidy(() => {
  const x = tf.tensor4d(values(8 * 16 * 16 * 8), [8, 16, 16, 8]);
  const w1 = tf.tensor4d(values(3 * 3 * 8 * 16), [3, 3, 8, 16]);
  const w2 = tf.tensor4d(values(3 * 3 * 16 * 16), [3, 3, 16, 16]);
  const w3 = tf.tensor2d(values(4 * 4 * 16 * 10), [4 * 4 * 16, 10]);
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
    const h1 = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'));
    const h2 = tf.maxPool(tf.relu(tf.conv2d(h1, c as tf.Tensor4D, 2, 'same')), 2, 2, 'valid');
    return tf.matMul(h2.reshape([8, -1]), d as tf.Tensor2D).square().sum();
  })([x, w1, w2, w3]);
  return grads.map((g) => Array.from(g.dataSync()));
});
const leaked = tf.memory().numTensors - before;
console.log(JSON.stringify({ threads: report.threads, wasmThreads: getThreadsCount(), nativeThreads, used: report.native?.used, leaked, gradients }));
