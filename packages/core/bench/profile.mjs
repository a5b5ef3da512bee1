// Per-step kernel profile of a workload on convkit's backend: `npm run profile -w @convkit/core -- [w1|vgg] [--train|--infer]`
// Prints the ten most expensive kernels of one training step (median of several profiled steps).
import { initBackend, tf } from '../dist/index.js';
import { setUp } from './workloads.mjs';

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith('--')) ?? 'w1';
const mode = args.includes('--infer') ? 'infer' : 'train';
const batch = Number(process.env.CONVKIT_BATCH ?? 64);
const report = await initBackend({ log: false });
const run = await setUp(name, batch);
for (let i = 0; i < 3; i++) run[mode]();
const steps = [];
for (let i = 0; i < 5; i++) {
  const started = performance.now();
  const info = await tf.profile(() => { run[mode](); });
  const wall = performance.now() - started;
  const byKernel = new Map();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += ms; entry.calls += 1;
    byKernel.set(k.name, entry);
  }
  steps.push({ wall, byKernel });
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const names = new Set(steps.flatMap((s) => [...s.byKernel.keys()]));
const rows = [...names].map((kernel) => ({
  kernel,
  calls: steps[0].byKernel.get(kernel)?.calls ?? 0,
  ms: median(steps.map((s) => s.byKernel.get(kernel)?.ms ?? 0)),
}));
rows.sort((a, b) => b.ms - a.ms);
const wall = median(steps.map((s) => s.wall));
const kernelTotal = rows.reduce((sum, r) => sum + r.ms, 0);
console.log(`convkit profile: ${name} ${mode} step, batch ${batch}, ${report.summary}`);
console.log(`step ${wall.toFixed(1)} ms (profiled, median of 5), kernels ${kernelTotal.toFixed(1)} ms, other ${(wall - kernelTotal).toFixed(1)} ms`);
console.log('kernel'.padEnd(28) + 'calls'.padStart(6) + 'ms'.padStart(9) + 'share'.padStart(8));
for (const r of rows.slice(0, 10)) {
  console.log(r.kernel.padEnd(28) + String(r.calls).padStart(6) + r.ms.toFixed(2).padStart(9) + `${((100 * r.ms) / wall).toFixed(1)}%`.padStart(8));
}
run.dispose();
