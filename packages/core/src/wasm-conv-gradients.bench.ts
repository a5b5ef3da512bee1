// Speed of convkit's wasm convolution gradients against the stock wasm Conv2DBackpropInput (the
// stock backend has no Conv2DBackpropFilter; cpu's is the fallback). Run on its own, so the stock
// kernel is still registered when this file starts:
//   npx vitest bench --run src/wasm-conv-gradients.bench.ts
import { bench, describe } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { createRng } from './rng.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

await tf.setBackend('wasm');
const stockInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
if (stockInput === undefined) throw new Error('expected the stock wasm Conv2DBackpropInput kernel');
registerWasmGradientKernels();
const convkitInput = tf.getKernel('Conv2DBackpropInput', 'wasm')!;

function useInputKernel(config: tf.KernelConfig): void {
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(config);
}

const rng = createRng(3);

// W1-like layer: conv 32→64, 3×3, 'same', on 14×14, batch 64; and a stride-2 variant.
const layers = [
  { label: '3x3 s1 same 14x14 32->64 batch 64', x: [64, 14, 14, 32], w: [3, 3, 32, 64], dy: [64, 14, 14, 64], strides: 1 },
  { label: '3x3 s2 same 14x14 32->64 batch 64', x: [64, 14, 14, 32], w: [3, 3, 32, 64], dy: [64, 7, 7, 64], strides: 2 },
];

let held: Record<string, tf.Tensor> = {};

for (const layer of layers) {
  const attrs = { strides: layer.strides, pad: 'same', dataFormat: 'NHWC' };
  const shapes: Record<string, number[]> = { x: layer.x, filter: layer.w, dy: layer.dy };
  const values = Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => [name, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal())]),
  );
  // Inputs are made on the benchmarked backend in setup, outside the timed function.
  const prepare = (backend: string, names: string[], inputKernel?: tf.KernelConfig) => async () => {
    if (inputKernel !== undefined) useInputKernel(inputKernel);
    await tf.setBackend(backend);
    held = Object.fromEntries(names.map((name) => [name, tf.tensor(values[name]!, shapes[name])]));
  };
  const release = () => {
    tf.dispose(Object.values(held));
    useInputKernel(convkitInput);
  };
  const run = (kernel: string, names: string[], extra: object) => async () => {
    const inputs = Object.fromEntries(names.map((name) => [name, held[name]!]));
    const out = tf.engine().runKernel(kernel, inputs, { ...attrs, ...extra }) as tf.Tensor;
    await out.data();
    out.dispose();
  };
  const options = { time: 1500, iterations: 5, teardown: release };
  const dx = ['dy', 'filter'];
  const dw = ['x', 'dy'];
  describe(`Conv2DBackpropInput ${layer.label}`, () => {
    const kernel = run('Conv2DBackpropInput', dx, { inputShape: layer.x });
    bench('convkit wasm', kernel, { ...options, setup: prepare('wasm', dx, convkitInput) });
    bench('stock wasm', kernel, { ...options, setup: prepare('wasm', dx, stockInput) });
    bench('cpu', kernel, { ...options, setup: prepare('cpu', dx) });
  });
  describe(`Conv2DBackpropFilter ${layer.label}`, () => {
    const kernel = run('Conv2DBackpropFilter', dw, { filterShape: layer.w });
    bench('convkit wasm', kernel, { ...options, setup: prepare('wasm', dw) });
    // tfjs's cpu Conv2DBackpropFilter takes about a minute here for the stride-1 layer: time one call.
    const once = { time: 0, iterations: 1, warmupTime: 0, warmupIterations: 0, teardown: release };
    bench('cpu (stock wasm has none)', kernel, { ...once, setup: prepare('cpu', dw) });
  });
  describe(`Conv2D forward ${layer.label} (for scale)`, () => {
    const names = ['x', 'filter'];
    bench('wasm', run('Conv2D', names, { dilations: 1 }), { ...options, setup: prepare('wasm', names) });
  });
}
