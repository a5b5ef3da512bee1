// convkit vs PyTorch on the same CPU: `npm run bench -w @convkit/core` (or `npm run bench` at the root).
// For each workload (bench/workloads.mjs) and thread count (1 and all cores; CONVKIT_BENCH_THREADS="1,2" to choose),
// measures training and inference samples/s of convkit on the backend initBackend() picks, and of PyTorch
// (/usr/bin/python3, bench/torch_bench.py) with the same model, batch, optimizer and threads. Prints a table and
// writes results/bench/core.json at the repository root. Each figure is the median of several timed windows; the
// spread is (max − min) / median over those windows.
// `--backend webgpu` measures convkit on WebGPU alone (CONVKIT_BACKEND=webgpu, reads with `await data()`) and writes
// results/bench/gpu-webgpu.json on a GPU, or results/bench/webgpu-software.json on a software adapter (lavapipe), with
// the adapter (vendor, architecture, device, driver, buffer limits) in the JSON.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const batch = Number(option('batch', process.env.CONVKIT_BATCH ?? 64));
const repeats = Number(option('repeats', process.env.CONVKIT_BENCH_REPEATS ?? 5));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values) => (Math.max(...values) - Math.min(...values)) / median(values);

if (option('backend', 'auto') === 'webgpu') {
  const { initBackend, describeAdapter } = await import('../dist/index.js');
  const { setUp } = await import('./workloads.mjs');
  const report = await initBackend({ backend: 'webgpu', log: (line) => console.error(line) });
  const rates = async (fn, count) => {
    for (let i = 0; i < 2; i++) await fn();
    const windows = [];
    for (let r = 0; r < repeats; r++) {
      const started = performance.now();
      for (let i = 0; i < count; i++) await fn();
      windows.push((batch * count * 1000) / (performance.now() - started));
    }
    return windows;
  };
  const rows = [];
  for (const name of option('workloads', 'w1,vgg').split(',')) {
    const run = setUp(name, batch);
    const steps = Number(option('steps', 3));
    for (const [mode, fn] of [['train', run.trainAsync], ['infer', run.inferAsync]]) {
      const windows = await rates(fn, mode === 'train' ? steps : steps * 2);
      rows.push({ workload: name, mode, system: 'convkit', backend: 'webgpu', batch, samplesPerSecond: median(windows), spread: spread(windows), runs: windows.length });
      console.log(`${name} ${mode}: ${median(windows).toFixed(1)} samples/s (±${(50 * spread(windows)).toFixed(0)}%)`);
    }
    run.dispose();
  }
  const root = join(here, '..', '..', '..');
  mkdirSync(join(root, 'results', 'bench'), { recursive: true });
  const file = join(root, 'results', 'bench', report.adapter?.software === false ? 'gpu-webgpu.json' : 'webgpu-software.json');
  const adapter = report.adapter === undefined ? null : { ...report.adapter, description: describeAdapter(report.adapter), driver: report.adapter.description };
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, adapter, summary: report.summary, batch, repeats, rows }, null, 2)}\n`);
  console.log(`wrote ${file}`);
  process.exit(0);
}

if (args.includes('--child')) {
  // One process per thread count: wasm threads are fixed when the backend first initialises.
  const threads = Number(option('threads', 1));
  const { initBackend } = await import('../dist/index.js');
  const { setUp } = await import('./workloads.mjs');
  const report = await initBackend({ threads, log: false });
  const kernels = report.native?.used ? ` + ${report.native.detail}` : '';
  const out = { backend: `${report.name}${kernels}`, native: report.native ?? null, threads: report.threads, workloads: {} };
  for (const name of option('workloads', 'w1,vgg').split(',')) {
    const run = setUp(name, batch);
    const steps = name === 'w1' ? 10 : 4;
    const rates = (fn, count) => {
      for (let i = 0; i < 3; i++) fn();
      return Array.from({ length: repeats }, () => {
        const started = performance.now();
        for (let i = 0; i < count; i++) fn();
        return (batch * count * 1000) / (performance.now() - started);
      });
    };
    out.workloads[name] = { train: rates(run.train, steps), infer: rates(run.infer, steps * 2) };
    run.dispose();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

const cores = availableParallelism();
const threadCounts = (process.env.CONVKIT_BENCH_THREADS ?? [...new Set([1, cores])].join(','))
  .split(',')
  .map(Number);
const workloads = option('workloads', 'w1,vgg');
const python = process.env.CONVKIT_BENCH_PYTHON ?? '/usr/bin/python3';
const rows = [];
// convkit runs twice per thread count when @convkit/native is built: with oneDNN's kernels and with its wasm
// kernels alone (CONVKIT_NATIVE=0), so that the gain is measured in the same run. CONVKIT_BENCH_NATIVE=0 skips the
// first, =1 the second.
const nativeModes = { '': ['1', '0'], 0: ['0'], 1: ['1'] }[process.env.CONVKIT_BENCH_NATIVE ?? ''] ?? ['1', '0'];
function runConvkit(threads, native) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--threads', String(threads), '--batch', String(batch), '--repeats', String(repeats), '--workloads', workloads], {
    encoding: 'utf8',
    env: { ...process.env, CONVKIT_THREADS: String(threads), CONVKIT_NATIVE: native },
  });
  if (child.status !== 0) throw new Error(`convkit bench (threads ${threads}) failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop());
}
for (const threads of threadCounts) {
  const convkits = [];
  for (const native of nativeModes) {
    const result = runConvkit(threads, native);
    // Without the addon both runs are the same wasm run: keep one.
    if (native === '0' && convkits.some((other) => other.backend === result.backend)) continue;
    convkits.push(result);
  }
  for (const name of workloads.split(',')) {
    const torch = spawnSync(python, [join(here, 'torch_bench.py'), '--workload', name, '--threads', String(threads), '--batch', String(batch), '--repeats', String(repeats), '--steps', name === 'w1' ? '10' : '4'], { encoding: 'utf8' });
    let pytorch;
    if (torch.status === 0) pytorch = JSON.parse(torch.stdout.trim().split('\n').pop());
    else console.error(`PyTorch not measured for ${name} (${threads} threads): ${torch.stderr.trim().split('\n').pop()}`);
    for (const mode of ['train', 'infer']) {
      const theirs = pytorch?.[mode];
      for (const convkit of convkits) {
        const ours = convkit.workloads[name][mode];
        rows.push({
          workload: name, mode, system: 'convkit', backend: convkit.backend, threads: convkit.threads, batch,
          samplesPerSecond: median(ours), spread: spread(ours), runs: ours.length,
          ratioToPytorch: theirs === undefined ? null : median(ours) / median(theirs),
        });
      }
      if (theirs !== undefined) {
        rows.push({
          workload: name, mode, system: 'pytorch', backend: `torch ${pytorch.torch} cpu (${pytorch.blas})`, threads: pytorch.threads, batch,
          samplesPerSecond: median(theirs), spread: spread(theirs), runs: theirs.length,
        });
      }
    }
  }
}

const table = [
  '| workload | mode | system | backend | threads | samples/s (median) | spread | ratio to PyTorch |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.workload} | ${r.mode} | ${r.system} | ${r.backend} | ${r.threads} | ${r.samplesPerSecond.toFixed(0)} | ±${(50 * r.spread).toFixed(0)}% | ${r.ratioToPytorch == null ? '' : `${r.ratioToPytorch.toFixed(2)}×`} |`),
].join('\n');
console.log(table);
const root = join(here, '..', '..', '..');
mkdirSync(join(root, 'results', 'bench'), { recursive: true });
const file = join(root, 'results', 'bench', 'core.json');
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores, batch, repeats, rows }, null, 2)}\n`);
console.log(`wrote ${file}`);
