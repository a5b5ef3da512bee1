// A/B of the wasm `Identity` provider (shared buffer vs stock copy), interleaved windows in one process.
import { initBackend, tf, withKernelProviders } from '../dist/index.js';
import { setUp } from './workloads.mjs';
const name = process.argv[2] ?? 'w1';
await initBackend({ log: false });
const run = await setUp(name, 64);
for (let i = 0; i < 3; i++) run.train();
const time = () => { const t0 = performance.now(); for (let i = 0; i < 5; i++) run.train(); return (performance.now() - t0) / 5; };
const shared = [], copy = [];
for (let w = 0; w < 12; w++) {
  if (w % 2 === 0) { shared.push(time()); copy.push(withKernelProviders({ disable: ['wasm-identity'] }, time)); }
  else { copy.push(withKernelProviders({ disable: ['wasm-identity'] }, time)); shared.push(time()); }
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(JSON.stringify({ workload: name, msPerStepShared: median(shared), msPerStepCopy: median(copy), ratio: median(copy) / median(shared) }));
run.dispose();
