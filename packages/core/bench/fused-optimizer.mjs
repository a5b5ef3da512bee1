// The fused optimizer update against the per-variable ops, interleaved in one process so that the machine's load
// falls on both: `node bench/fused-optimizer.mjs [--threads 1] [--workload w1] [--windows 7] [--steps 10]`
// (after `npm run build -w @convkit/core`; one process per thread count, as wasm threads are fixed at start).
// Alternates timed windows of training steps in three arms, chosen through withKernelProviders: 'native' (the C++
// kernels of @convkit/native, when built), 'wasm' (convkit's WebAssembly loops alone) and 'unfused' (both fused
// providers off: the per-variable tensor ops); it also times the Adam update alone on the model's weight shapes.
// Prints one JSON line with medians per arm: training samples/s, ms per step, kernels per step (tf.profile), and
// the update's ms.
import { initBackend, tf, withKernelProviders } from '../dist/index.js';
import { setUp } from './workloads.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const threads = Number(option('threads', 1));
const workload = option('workload', 'w1');
const windows = Number(option('windows', 7));
const steps = Number(option('steps', 10));
const batch = Number(option('batch', 64));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const report = await initBackend({ threads, log: false });
const run = await setUp(workload, batch);
const arms = {
  native: (fn) => fn(),
  wasm: (fn) => withKernelProviders({ disable: ['native-fused-optimizer'] }, fn),
  unfused: (fn) => withKernelProviders({ disable: ['native-fused-optimizer', 'wasm-fused-optimizer'] }, fn),
};
const results = Object.fromEntries(Object.keys(arms).map((arm) => [arm, { samplesPerSecond: [], kernelsPerStep: [], updateMs: [] }]));
// The update alone: Adam on gradients shaped like the model's weights (fixed values), repeated.
const { adam } = await import('@convkit/optim');
const variables = run.model.trainableWeights.map((weight) => tf.variable(tf.randomNormal(weight.shape, 0, 0.1, 'float32', 3)));
const gradients = variables.map((variable) => tf.randomNormal(variable.shape, 0, 0.01, 'float32', 4));
const pairs = variables.map((variable, index) => ({ variable, gradient: gradients[index] }));
const updaters = Object.fromEntries(Object.keys(arms).map((arm) => [arm, adam()]));
for (const [arm, within] of Object.entries(arms)) within(() => { for (let i = 0; i < 3; i++) run.train(); updaters[arm].applyGradients(pairs); });
for (let w = 0; w < windows; w++) {
  // The arms' order rotates every window, so that none always runs first after another's allocations.
  const order = Object.entries(arms);
  for (const [arm, within] of [...order.slice(w % order.length), ...order.slice(0, w % order.length)]) {
    within(() => {
      const started = performance.now();
      for (let i = 0; i < steps; i++) run.train();
      results[arm].samplesPerSecond.push((batch * steps * 1000) / (performance.now() - started));
      const updateStarted = performance.now();
      for (let i = 0; i < steps; i++) updaters[arm].applyGradients(pairs);
      results[arm].updateMs.push((performance.now() - updateStarted) / steps);
    });
    results[arm].kernelsPerStep.push((await arms[arm](() => tf.profile(() => { run.train(); }))).kernels.length);
  }
}
const summary = Object.fromEntries(
  Object.entries(results).map(([arm, r]) => [arm, { samplesPerSecond: median(r.samplesPerSecond), msPerStep: (batch * 1000) / median(r.samplesPerSecond), kernelsPerStep: median(r.kernelsPerStep), updateMs: median(r.updateMs), windows: r.samplesPerSecond.map((x) => Math.round(x)) }]),
);
console.log(JSON.stringify({ workload, batch, threads: report.threads, backend: report.summary, speedup: { native: summary.native.samplesPerSecond / summary.unfused.samplesPerSecond, wasm: summary.wasm.samplesPerSecond / summary.unfused.samplesPerSecond }, ...summary }));
Object.values(updaters).forEach((optimizer) => optimizer.dispose());
tf.dispose([...variables, ...gradients]);
run.dispose();
