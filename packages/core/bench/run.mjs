// convkit vs PyTorch on the same CPU: `npm run bench -w @convkit/core` (or `npm run bench` at the root).
// For each workload (bench/workloads.mjs) and thread count (1 and all cores; CONVKIT_BENCH_THREADS="1,2" to choose),
// measures training and inference samples/s of convkit on the backend initBackend() picks, and of PyTorch
// (/usr/bin/python3, bench/torch_bench.py) with the same model, batch, optimizer and threads, in two configurations
// (default NCHW, and channels_last with mkldnn on); the ratio column is against the faster of the two. Each figure is
// the median of several timed windows; the spread is (max − min) / median over those windows.
// In the same run it measures the FP32 limit: oneDNN's sgemm (@convkit/native's matMul) on large square products at 1
// and 2 threads (and each benched thread count), best of a few repeats; every row gets its analytic FLOPs per sample,
// achieved GFLOP/s and % of the limit at its thread count; convkit's oneDNN f32 training rows also get the % of the
// limit probed right before each of their windows (the same sgemm, once: this machine's speed moves within minutes).
// For W1 it records the anatomy of a training step: kernels per step (tf.profile) and the time per step outside
// kernels (unprofiled wall − profiled kernel time).
// Options: --batch 64, --repeats 5, --steps N (timed steps per window; default W1 10, VGG 4), --workloads w1,vgg,
// --peak-size 2048, --peak-repeats 5, --optimizer convkit|tfjs (training's Adam: @convkit/optim's, the default, or
// tf.train.adam), --rounds N (2: convkit and PyTorch alternate which runs first, medians over all rounds' windows),
// --layers convkit|tfjs (convkit's conv layers: conv2dLayer, the default, or tf.layers.conv2d), --loss convkit|tfjs
// (@convkit/core's softmaxCrossEntropyFromLogits, the default, or tf.losses.softmaxCrossEntropy), --fused-ab
// (also without the fused optimizer update), --out FILE (default results/bench/core.json at the repository root),
// --scaling-rounds 8 (the thread-scaling measurement's alternating windows per thread count), --no-scaling (skip it),
// --ceiling-rounds 12, --ceiling-duration 1000 (ms), --no-ceiling (the parallel ceiling: independent 1-thread processes
// training W1 at the same time, against one alone).
// `--backend webgpu` measures convkit on WebGPU alone (CONVKIT_BACKEND=webgpu, reads with `await data()`) and writes
// results/bench/gpu-webgpu.json on a GPU, or results/bench/webgpu-software.json on a software adapter (lavapipe), with
// the adapter (vendor, architecture, device, driver, buffer limits) in the JSON.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
/** A whole-number option of at least 1 (a count, or milliseconds), or an error that names it. */
const countOption = (name, fallback) => {
  const value = Number(option(name, fallback));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer (received ${option(name)})`);
  return value;
};
const batch = Number(option('batch', process.env.CONVKIT_BATCH ?? 64));
// Training's optimizer: @convkit/optim's adam (fused on wasm), or tfjs's tf.train.adam with --optimizer tfjs.
const trainOptimizer = option('optimizer', 'convkit');
// convkit's conv layers: @convkit/core's conv2dLayer (conv + bias + relu as one kernel in training) and conv2dPoolLayer
// (a conv followed by a 2×2 pool: one kernel for W1's first block), or tf.layers.conv2d and maxPooling2d with
// --layers tfjs.
const convLayers = option('layers', 'convkit');
// The loss: @convkit/core's softmaxCrossEntropyFromLogits (one kernel each way on wasm), or tf.losses.softmaxCrossEntropy
// with --loss tfjs.
const lossKind = option('loss', 'convkit');
const repeats = Number(option('repeats', process.env.CONVKIT_BENCH_REPEATS ?? 5));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values) => (Math.max(...values) - Math.min(...values)) / median(values);
/** The median over rounds of one window's rate over the other's of the same round. */
const pairedRatio = (rates, baseline) => median(rates.map((rate, i) => rate / baseline[i]));
/** `items` in round `round`'s order: as given in even rounds, reversed in odd ones (a drift falls on each alike). */
const inRoundOrder = (round, items) => (round % 2 === 0 ? items : [...items].reverse());

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
    const run = await setUp(name, batch, { optimizer: trainOptimizer, layers: convLayers, loss: lossKind });
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

const stepsFor = (name) => Number(option('steps', name === 'w1' ? 10 : 4));
// One timed window: `count` calls of a synchronous step, in samples/s.
const windowRate = (fn, count) => {
  const started = performance.now();
  for (let i = 0; i < count; i++) fn();
  return (batch * count * 1000) / (performance.now() - started);
};

/**
 * One timed dnnl_sgemm (@convkit/native's matMul, m = n = k = size) on fixed operands, in GFLOP/s: the FP32 limit's
 * probe, here and between the training windows of the `--child` rows.
 */
function sgemmProbe(native, size) {
  const fill = (n) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const a = fill(size * size);
  const b = fill(size * size);
  const c = new Float32Array(size * size);
  const once = () => {
    const started = performance.now();
    native.matMul(1, size, size, size, false, false, a, 0, b, 0, c);
    return (2 * size ** 3) / ((performance.now() - started) * 1e6);
  };
  once(); // oneDNN's first call at a size picks and warms its kernel
  return once;
}

if (args.includes('--peak')) {
  // The FP32 limit at this thread count: dnnl_sgemm through @convkit/native's matMul, m = n = k = size, best of repeats.
  const threads = Number(option('threads', 1));
  const size = Number(option('peak-size', 2048));
  const peakRepeats = Number(option('peak-repeats', 5));
  let native;
  try {
    native = (await import('@convkit/native')).loadNative();
  } catch (error) {
    console.log(JSON.stringify({ threads, error: error instanceof Error ? error.message : String(error) }));
    process.exit(0);
  }
  native.setThreads(threads);
  const once = sgemmProbe(native, size);
  const runs = Array.from({ length: peakRepeats }, once);
  const { version, cpuIsa } = native.info();
  console.log(JSON.stringify({ threads: native.getThreads(), size, gflops: Math.max(...runs), runs, oneDNN: version, cpuIsa }));
  process.exit(0);
}

if (args.includes('--ceiling-child')) {
  // One of the parent's parallelCeiling trainers (1 thread, or --threads N): builds the workload, warms up, prints
  // 'ready', then for each line 'run MS' on stdin times training steps for MS milliseconds and prints their samples/s;
  // it leaves when stdin closes.
  const { initBackend } = await import('../dist/index.js');
  const { setUp } = await import('./workloads.mjs');
  const { createInterface } = await import('node:readline');
  await initBackend({ threads: Number(option('threads', 1)), log: false });
  const run = await setUp(option('workloads', 'w1'), batch, { optimizer: trainOptimizer, layers: convLayers, loss: lossKind });
  // Warm for a second and a half (V8's heap and code settle over the first hundred or so steps).
  for (const started = performance.now(); performance.now() - started < 1500; ) run.train();
  console.log('ready');
  for await (const line of createInterface({ input: process.stdin })) {
    const duration = Number(line.split(' ')[1]);
    const started = performance.now();
    let steps = 0;
    while (performance.now() - started < duration) {
      run.train();
      steps += 1;
    }
    console.log(JSON.stringify({ samplesPerSecond: (batch * steps * 1000) / (performance.now() - started), steps }));
  }
  process.exit(0);
}

if (args.includes('--scaling-child')) {
  // Thread scaling in one process: the backend starts with every core; windows of training steps alternate between 1
  // and `cores` oneDNN/OpenMP threads (@convkit/native's setThreads; the wasm backend's own threads stay as they
  // started), so that a drift in the machine's speed falls on both thread counts alike.
  const cores = Number(option('threads', 2));
  const scalingRounds = countOption('scaling-rounds', 8);
  const { initBackend } = await import('../dist/index.js');
  const { setUp } = await import('./workloads.mjs');
  const report = await initBackend({ threads: cores, log: false });
  if (!report.native?.used) {
    console.log(JSON.stringify({ error: `no oneDNN kernels to switch threads on (${report.summary})` }));
    process.exit(0);
  }
  const native = (await import('@convkit/native')).loadNative();
  const out = { backend: `${report.name} + ${report.native.detail}`, threads: [1, cores], workloads: {} };
  for (const name of option('workloads', 'w1,vgg').split(',')) {
    const run = await setUp(name, batch, { optimizer: trainOptimizer, layers: convLayers, loss: lossKind });
    const steps = stepsFor(name);
    const windows = { 1: [], [cores]: [] };
    for (const t of [1, cores]) {
      native.setThreads(t);
      for (let i = 0; i < 3; i++) run.train();
    }
    for (let round = 0; round < scalingRounds; round++) {
      for (const t of inRoundOrder(round, [1, cores])) {
        native.setThreads(t);
        run.train();
        windows[t].push(windowRate(run.train, steps));
      }
    }
    out.workloads[name] = { windows };
    run.dispose();
  }
  native.setThreads(cores);
  console.log(JSON.stringify(out));
  process.exit(0);
}

if (args.includes('--child')) {
  // One process per thread count: wasm threads are fixed when the backend first initialises.
  const threads = Number(option('threads', 1));
  const { initBackend, tf, withKernelProviders } = await import('../dist/index.js');
  const { setUp, flopsPerSample } = await import('./workloads.mjs');
  const report = await initBackend({ threads, log: false });
  const kernels = report.native?.used ? ` + ${report.native.detail}` : '';
  // CONVKIT_BENCH_FUSED=0: the optimizer's per-variable ops, both fused-update providers off (the A/B's "before").
  const fused = process.env.CONVKIT_BENCH_FUSED !== '0';
  const low = report.precision === 'bf16' ? ', bf16 convolutions' : '';
  const direct = report.convAlgorithm === 'direct' ? ', direct convolutions' : '';
  const out = { backend: `${report.name}${kernels}${low}${direct}${fused ? '' : ', unfused optimizer'}`, native: report.native ?? null, precision: report.precision, precisionNote: report.precisionNote ?? null, convAlgorithm: report.convAlgorithm ?? null, fusedOptimizer: fused, threads: report.threads, workloads: {} };
  const within = (fn) => (fused ? fn() : withKernelProviders({ disable: ['native-fused-optimizer', 'wasm-fused-optimizer'] }, fn));
  const probe = report.native?.used && report.precision === 'f32' ? sgemmProbe((await import('@convkit/native')).loadNative(), Number(option('peak-size', 2048))) : null;
  await within(async () => { for (const name of option('workloads', 'w1,vgg').split(',')) {
    const run = await setUp(name, batch, { optimizer: trainOptimizer, layers: convLayers, loss: lossKind });
    const steps = stepsFor(name);
    const rates = (fn, count, before = () => {}) => {
      for (let i = 0; i < 3; i++) fn();
      return Array.from({ length: repeats }, () => {
        before();
        return windowRate(fn, count);
      });
    };
    // With oneDNN's f32 kernels: the FP32 limit's probe (--peak's sgemm, once) right before each training window, then
    // one untimed step (the probe's operands evict the step's data), so that each window has the limit of its moment.
    const trainLimit = [];
    const probeLimit = () => {
      trainLimit.push(probe());
      run.train();
    };
    const train = rates(run.train, steps, probe === null ? undefined : probeLimit);
    out.workloads[name] = { train, ...(probe === null ? {} : { trainLimit }), infer: rates(run.infer, steps * 2), flops: flopsPerSample(run.model) };
    if (name === 'w1') out.workloads[name].anatomy = await anatomy(tf, run, steps);
    run.dispose();
  } });
  console.log(JSON.stringify(out));
  process.exit(0);
}

/**
 * One training step taken apart: kernels per step and kernel time from tf.profile (median of profiled steps), the wall
 * time of unprofiled steps (median), and their difference, the JavaScript (tape, gradients, allocation, the loss read)
 * outside kernels.
 */
async function anatomy(tf, run, steps) {
  const count = Math.max(9, steps);
  const walls = [];
  const backend = tf.getBackend();
  let scopes = [];
  const profiled = [];
  // Unprofiled and profiled steps alternate, so that a change in the machine's load falls on both.
  for (let i = 0; i < count; i++) {
    const unprofiled = performance.now();
    run.train();
    walls.push(performance.now() - unprofiled);
    const started = performance.now();
    const info = await tf.profile(() => { run.train(); });
    const wall = performance.now() - started;
    const byKernel = new Map();
    // tf.profile also lists customGrad scopes (softmaxCrossEntropy, fusedMatMul), whose kernels it lists too: count
    // registered kernels only, so that no time is counted twice.
    const kernels = info.kernels.filter((k) => tf.getKernel(k.name, backend) !== undefined);
    scopes = [...new Set(info.kernels.filter((k) => !kernels.includes(k)).map((k) => k.name))];
    for (const k of kernels) {
      const entry = byKernel.get(k.name) ?? { calls: 0, ms: 0 };
      entry.calls += 1;
      entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      byKernel.set(k.name, entry);
    }
    profiled.push({ wall, kernels: kernels.length, kernelMs: [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0), byKernel, peakBytes: info.peakBytes });
  }
  const wallMs = median(walls);
  const kernelMs = median(profiled.map((p) => p.kernelMs));
  const names = new Set(profiled.flatMap((p) => [...p.byKernel.keys()]));
  const byKernel = [...names]
    .map((kernel) => ({
      kernel,
      calls: median(profiled.map((p) => p.byKernel.get(kernel)?.calls ?? 0)),
      ms: median(profiled.map((p) => p.byKernel.get(kernel)?.ms ?? 0)),
    }))
    .sort((x, y) => y.ms - x.ms);
  return {
    steps: count,
    wallMsPerStep: wallMs,
    kernelsPerStep: median(profiled.map((p) => p.kernels)),
    kernelMsPerStep: kernelMs,
    jsMsPerStep: wallMs - kernelMs,
    jsShare: (wallMs - kernelMs) / wallMs,
    profiledWallMsPerStep: median(profiled.map((p) => p.wall)),
    // tf.profile's peakBytes: the most tensor memory the engine held during the step (weights, optimizer slots, data included).
    peakTensorMBPerStep: median(profiled.map((p) => p.peakBytes)) / 2 ** 20,
    scopesNotCounted: scopes,
    method:
      'kernelsPerStep: registered kernels run through tf.engine per training step (tf.profile; kernels a kernel calls inside the ' +
      'backend are not separate); kernelMsPerStep: the time inside those engine.runKernel calls (the kernel and its output tensors); ' +
      'wallMsPerStep: median unprofiled step (minimize, gradients, Adam, loss read); jsMsPerStep = wall - kernel time: tape, ' +
      'gradient functions, tidy/dispose and other JavaScript outside kernels. Medians over alternating profiled and unprofiled steps.',
    topKernels: byKernel.slice(0, 10),
  };
}

// The parent's counts, checked before anything runs.
const rounds = countOption('rounds', 2);
const scalingRounds = countOption('scaling-rounds', 8);
const ceilingRounds = countOption('ceiling-rounds', 12);
const ceilingDuration = countOption('ceiling-duration', 1000);
const loadStart = loadavg();
const { FLOP_CONVENTION } = await import('./workloads.mjs');
const cores = availableParallelism();
const threadCounts = (process.env.CONVKIT_BENCH_THREADS ?? [...new Set([1, cores])].join(','))
  .split(',')
  .map(Number);
const workloads = option('workloads', 'w1,vgg');
const python = process.env.CONVKIT_BENCH_PYTHON ?? '/usr/bin/python3';
const rows = [];
// What the convkit children build and time, as this run was asked.
const modelArgsFor = (batchOf, names) => ['--batch', String(batchOf), '--workloads', names, '--optimizer', trainOptimizer, '--layers', convLayers, '--loss', lossKind];
const modelArgs = [...modelArgsFor(batch, workloads), ...(option('steps') === undefined ? [] : ['--steps', option('steps')])];
const nodeChild = (extra, env) => {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...extra], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (child.status !== 0) throw new Error(`bench child (${extra.join(' ')}) failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop());
};

// The FP32 limit, first, while nothing of this run is warm.
const limitThreads = [...new Set([1, 2, ...threadCounts])].sort((a, b) => a - b);
const peakSize = option('peak-size', '2048');
const peakRepeats = option('peak-repeats', '5');
// Measured at the start and again at the end of the run; the limit is the best of both, so that a burst of load on
// the machine during one of them does not lower it.
const limits = {};
const measureLimits = (when) => {
  for (const threads of limitThreads) {
    const peak = nodeChild(['--peak', '--threads', String(threads), '--peak-size', peakSize, '--peak-repeats', peakRepeats], {});
    (limits[threads] ??= {})[when] = peak;
    console.error(peak.error === undefined ? `FP32 limit (${when}), ${threads} thread(s): ${peak.gflops.toFixed(1)} GFLOP/s (oneDNN ${peak.oneDNN} sgemm, ${peak.size}³, ${peak.cpuIsa})` : `FP32 limit not measured: ${peak.error}`);
  }
};
measureLimits('start');
const limitAt = (threads) => {
  const found = Object.values(limits[threads] ?? {}).map((peak) => peak.gflops).filter((g) => g !== undefined);
  return found.length === 0 ? null : Math.max(...found);
};

// convkit runs twice per thread count when @convkit/native is built: with oneDNN's kernels and with its wasm
// kernels alone (CONVKIT_NATIVE=0), so that the gain is measured in the same run. CONVKIT_BENCH_NATIVE=0 skips the
// first, =1 the second.
const nativeModes = { '': ['1', '0'], 0: ['0'], 1: ['1'] }[process.env.CONVKIT_BENCH_NATIVE ?? ''] ?? ['1', '0'];
// --fused-ab: each convkit configuration runs twice, with the fused optimizer update (default) and without it
// (CONVKIT_BENCH_FUSED=0), so that its gain is measured in the same run.
const fusedModes = args.includes('--fused-ab') ? ['1', '0'] : ['1'];
// With oneDNN's kernels, convkit also runs with bf16 convolutions (CONVKIT_PRECISION=bf16, an opt-in) when the CPU
// has bf16 instructions, against PyTorch under CPU autocast to bf16 (its config channels_last_bf16); --no-bf16 skips both.
const bf16 = !args.includes('--no-bf16');
// With oneDNN's kernels, convkit also runs with every convolution on oneDNN's direct algorithm
// (CONVKIT_CONV_ALGORITHM=direct), so that the default's Winograd convolutions are measured against it in the same run;
// --no-direct skips it.
const directRow = !args.includes('--no-direct');
const flops = {};
const anatomies = [];
const pytorchConfigs = {};
let pytorchEnv = null;
const withFlops = (row, flopsPerSample) => {
  const gflops = flopsPerSample === undefined ? null : (row.samplesPerSecond * flopsPerSample) / 1e9;
  const limit = limitAt(row.threads);
  return { ...row, flopsPerSample: flopsPerSample ?? null, gflops, fractionOfLimit: gflops === null || limit === null ? null : gflops / limit };
};
/** convkit's configurations at one thread count, each in a child process: oneDNN (f32, bf16), wasm alone. */
function runConvkit(threads) {
  const convkits = [];
  const modes = nativeModes.flatMap((mode) => fusedModes.map((f) => [mode, f, 'f32', 'auto']));
  if (directRow && nativeModes.includes('1')) modes.splice(1, 0, ['1', '1', 'f32', 'direct']);
  if (bf16 && nativeModes.includes('1')) modes.splice(1, 0, ['1', '1', 'bf16', 'auto']);
  for (const [native, fused, precision, algorithm] of modes) {
    const result = nodeChild(['--child', '--threads', String(threads), '--repeats', String(repeats), ...modelArgs], {
      CONVKIT_THREADS: String(threads),
      CONVKIT_NATIVE: native,
      CONVKIT_BENCH_FUSED: fused,
      CONVKIT_PRECISION: precision,
      CONVKIT_CONV_ALGORITHM: algorithm,
    });
    // Without the addon both runs are the same wasm run: keep one. bf16 where the CPU has none: not a row.
    if (native === '0' && convkits.some((other) => other.backend === result.backend)) continue;
    if (algorithm === 'direct' && result.convAlgorithm !== 'direct') continue; // an addon without the setting
    if (precision === 'bf16' && result.precision !== 'bf16') {
      console.error(`bf16 not measured (${threads} threads): ${result.precisionNote ?? 'not used'}`);
      continue;
    }
    convkits.push(result);
  }
  return convkits;
}

/** bench/torch_bench.py for one workload at `threads` (its parsed JSON), or `{ error }` with its last line of stderr. */
function torchChild(name, threads, extra) {
  const torch = spawnSync(python, [join(here, 'torch_bench.py'), '--workload', name, '--threads', String(threads), '--batch', String(batch), '--steps', String(stepsFor(name)), ...extra], { encoding: 'utf8' });
  return torch.status === 0 ? JSON.parse(torch.stdout.trim().split('\n').pop()) : { error: torch.stderr.trim().split('\n').pop() };
}

/** PyTorch's configurations for each workload at one thread count (bench/torch_bench.py), or an error per workload. */
function runPytorch(threads, withBf16) {
  const out = {};
  for (const name of workloads.split(',')) {
    const torchConfigs = withBf16 ? ['default', 'channels_last', 'channels_last_bf16'] : ['default', 'channels_last'];
    const torch = torchChild(name, threads, ['--repeats', String(repeats), '--configs', torchConfigs.join(',')]);
    if (torch.error === undefined) out[name] = torch;
    else console.error(`PyTorch not measured for ${name} (${threads} threads): ${torch.error}`);
  }
  return out;
}

/** The timed windows of every round in one list per configuration (the rounds' results have one shape). */
function mergeRounds(rounds, windowsOf) {
  const [first, ...rest] = rounds;
  for (const later of rest) {
    for (const [target, source] of windowsOf(first, later)) if (Array.isArray(target) && Array.isArray(source)) target.push(...source);
  }
  return first;
}

// --rounds N (default 2): each thread count runs convkit and PyTorch N times, alternating which goes first
// (convkit, PyTorch, then PyTorch, convkit, …), and every row's median and spread are over the timed windows of all
// rounds: a drift in the machine's load between the two systems then falls on both.
for (const threads of threadCounts) {
  const convkitRounds = [];
  const pytorchRounds = [];
  for (let round = 0; round < rounds; round++) {
    const runBoth = () => {
      const ours = runConvkit(threads);
      const theirs = runPytorch(threads, ours.some((c) => c.precision === 'bf16'));
      return [ours, theirs];
    };
    if (round % 2 === 0) {
      const [ours, theirs] = runBoth();
      convkitRounds.push(ours);
      pytorchRounds.push(theirs);
    } else {
      const theirs = runPytorch(threads, bf16 && convkitRounds[0].some((c) => c.precision === 'bf16'));
      pytorchRounds.push(theirs);
      convkitRounds.push(runConvkit(threads));
    }
  }
  const convkits = mergeRounds(convkitRounds, (first, later) =>
    first.flatMap((result, i) => Object.keys(result.workloads).flatMap((name) => ['train', 'trainLimit', 'infer'].map((key) => [result.workloads[name][key], later[i].workloads[name][key]]))),
  );
  const pytorchByName = mergeRounds(pytorchRounds, (first, later) =>
    Object.keys(first).flatMap((name) => Object.keys(first[name].configs).flatMap((config) => ['train', 'infer'].map((mode) => [first[name].configs[config][mode], later[name]?.configs[config]?.[mode] ?? []]))),
  );
  for (const result of convkits) {
    for (const [name, w] of Object.entries(result.workloads)) {
      flops[name] ??= w.flops;
      if (w.anatomy !== undefined) anatomies.push({ workload: name, mode: 'train', backend: result.backend, threads: result.threads, batch, ...w.anatomy });
    }
  }
  for (const name of workloads.split(',')) {
    const pytorch = pytorchByName[name];
    if (pytorch !== undefined) pytorchEnv = pytorch.env;
    for (const mode of ['train', 'infer']) {
      const flopsPerSample = flops[name]?.[mode === 'train' ? 'train' : 'forward'];
      // PyTorch's best configuration for this workload, mode and thread count, at the same precision: the ratio's
      // denominator (float32 rows against PyTorch's float32 configurations, bf16 rows against its bf16 one).
      const theirs = Object.entries(pytorch?.configs ?? {}).map(([config, c]) => ({ config, rates: c[mode], c, precision: c.precision ?? 'f32' }));
      const bestAt = (precision) =>
        theirs.filter((t) => t.precision === precision).reduce((top, t) => (top === undefined || median(t.rates) > median(top.rates) ? t : top), undefined);
      for (const convkit of convkits) {
        const best = bestAt(convkit.precision ?? 'f32');
        const ours = convkit.workloads[name][mode];
        // The limit probed right before each training window (oneDNN f32 rows): each window against its own moment's.
        const limitsThen = mode === 'train' ? convkit.workloads[name].trainLimit : undefined;
        rows.push(withFlops({
          workload: name, mode, system: 'convkit', config: `${convkit.native?.used ? 'oneDNN kernels' : 'wasm kernels only'}${convkit.precision === 'bf16' ? ', bf16 convolutions' : ''}${convkit.convAlgorithm === 'direct' ? ', direct convolutions' : ''}${convkit.fusedOptimizer === false ? ', unfused optimizer' : ''}`, precision: convkit.precision ?? 'f32', convAlgorithm: convkit.convAlgorithm ?? null, fusedOptimizer: convkit.fusedOptimizer ?? true, backend: convkit.backend, threads: convkit.threads, batch,
          samplesPerSecond: median(ours), spread: spread(ours), runs: ours.length,
          ratioToPytorch: best === undefined ? null : median(ours) / median(best.rates),
          pytorchConfig: best?.config ?? null,
          ratioToPytorchByConfig: Object.fromEntries(theirs.map((t) => [t.config, median(ours) / median(t.rates)])),
          limitAtWindows: limitsThen === undefined ? null : median(limitsThen),
          fractionOfLimitAtWindows: limitsThen === undefined || flopsPerSample === undefined ? null : median(ours.map((rate, i) => (rate * flopsPerSample) / 1e9 / limitsThen[i])),
        }, flopsPerSample));
      }
      for (const t of theirs) {
        const autocast = t.precision === 'bf16' ? ', autocast bf16' : '';
        pytorchConfigs[t.config] = `torch ${pytorch.torch} cpu (${pytorch.blas}), memory format ${t.c.memoryFormat}, torch.backends.mkldnn.enabled = ${t.c.mkldnn}${t.precision === 'bf16' ? ", torch.autocast('cpu', dtype=torch.bfloat16) around the forward and loss" : ''}`;
        rows.push(withFlops({
          workload: name, mode, system: 'pytorch', config: t.config, precision: t.precision, backend: `torch ${pytorch.torch} cpu (${pytorch.blas}), ${t.c.memoryFormat}, mkldnn ${t.c.mkldnn ? 'on' : 'off'}${autocast}`, threads: pytorch.threads, batch,
          samplesPerSecond: median(t.rates), spread: spread(t.rates), runs: t.rates.length, best: t === bestAt(t.precision),
        }, flopsPerSample));
      }
    }
  }
}

// The thread scaling in one process per system (--scaling-child here, torch_bench.py --scaling): the rows above
// measure each thread count in its own processes, minutes apart, over which this machine's speed can move by a third
// (W1 at 1 thread: 10.7 to 17 ms a step within ten minutes); alternating windows in one process put any drift on
// both counts. Training only, f32; --no-scaling skips it.
const threadScaling = [];
const maxThreads = Math.max(...threadCounts);
if (maxThreads > 1 && !args.includes('--no-scaling')) {
  const scalingRow = (system, config, backend, name, windows) => ({
    workload: name, mode: 'train', system, config, backend, threads: [1, maxThreads], batch,
    samplesPerSecond: { 1: median(windows[1]), [maxThreads]: median(windows[maxThreads]) },
    ratio: pairedRatio(windows[maxThreads], windows[1]), windows,
  });
  const ours = nodeChild(['--scaling-child', '--threads', String(maxThreads), '--scaling-rounds', String(scalingRounds), ...modelArgs], { CONVKIT_THREADS: String(maxThreads) });
  if (ours.error !== undefined) console.error(`thread scaling of convkit not measured: ${ours.error}`);
  else for (const [name, w] of Object.entries(ours.workloads)) threadScaling.push(scalingRow('convkit', 'oneDNN kernels', ours.backend, name, w.windows));
  for (const name of workloads.split(',')) {
    const pytorch = torchChild(name, maxThreads, ['--scaling', '--rounds', String(scalingRounds), '--configs', 'default,channels_last']);
    if (pytorch.error !== undefined) {
      console.error(`thread scaling of PyTorch not measured for ${name}: ${pytorch.error}`);
      continue;
    }
    for (const [config, c] of Object.entries(pytorch.configs)) {
      threadScaling.push(scalingRow('pytorch', config, `torch ${pytorch.torch} cpu (${pytorch.blas}), ${c.memoryFormat}, mkldnn ${c.mkldnn ? 'on' : 'off'}`, name, c.scaling));
    }
  }
}

// The machine's ceiling for the thread-scaling rows: `maxThreads` independent 1-thread convkit processes training W1
// at the same time, each at the full batch (nothing shared between the cores) and each at batch / maxThreads (the
// batch split between the cores as data parallelism would split it, without exchanging gradients), against one such
// process alone: what more cores can give this workload on this machine with no communication between them at all.
// In the same rounds, one process with `maxThreads` threads (the scaling rows' configuration), so that the achieved
// scaling is paired in time with the ceiling; the order alternates each round. --no-ceiling skips it.
const parallelCeiling = [];
if (maxThreads > 1 && !args.includes('--no-ceiling')) {
  const splitBatch = Math.max(1, Math.floor(batch / maxThreads));
  const { createInterface } = await import('node:readline');
  /** A ceiling child kept running: `window(ms)` times one window of its training steps (samples/s). */
  const trainer = (batchEach, threads) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--ceiling-child', '--threads', String(threads), ...modelArgsFor(batchEach, 'w1')], {
      env: { ...process.env, CONVKIT_THREADS: String(threads) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`ceiling child (batch ${batchEach}, ${threads} thread(s)) exited (${child.exitCode})`);
      return value;
    };
    return {
      ready: next(),
      window: async (ms) => {
        child.stdin.write(`run ${ms}\n`);
        return JSON.parse(await next()).samplesPerSecond;
      },
      close: () => child.stdin.end(),
    };
  };
  const many = (count, batchEach) => Array.from({ length: count }, () => trainer(batchEach, 1));
  const full = many(maxThreads, batch);
  // `alone` is one of `full`'s processes, in a window of its own; idle processes wait on their stdin.
  const groups = { alone: [full[0]], full, split: many(maxThreads, splitBatch), threads: [trainer(batch, maxThreads)] };
  const all = [...full, ...groups.split, ...groups.threads];
  await Promise.all(all.map((t) => t.ready));
  const windows = Object.fromEntries(Object.keys(groups).map((kind) => [kind, []]));
  for (let round = 0; round < ceilingRounds; round++) {
    for (const kind of inRoundOrder(round, Object.keys(groups))) {
      const rates = await Promise.all(groups[kind].map((t) => t.window(ceilingDuration)));
      windows[kind].push(rates.reduce((sum, rate) => sum + rate, 0));
    }
  }
  for (const t of all) t.close();
  parallelCeiling.push({
    workload: 'w1', mode: 'train', threads: maxThreads, batch, splitBatch,
    samplesPerSecond: Object.fromEntries(Object.entries(windows).map(([kind, w]) => [kind, median(w)])),
    ceiling: pairedRatio(windows.full, windows.alone), splitCeiling: pairedRatio(windows.split, windows.alone), achieved: pairedRatio(windows.threads, windows.alone),
    windows,
  });
}

measureLimits('end');
for (const row of rows) {
  const limit = limitAt(row.threads);
  row.fractionOfLimit = row.gflops === null || limit === null ? null : row.gflops / limit;
}
const warnings = rows
  .filter((r) => r.fractionOfLimit > 1)
  .map((r) => `${r.workload} ${r.mode} ${r.system} ${r.config} at ${r.threads} thread(s) is at ${(100 * r.fractionOfLimit).toFixed(0)}% of the FP32 limit: the limit was measured low (load on the machine?)`);
for (const warning of warnings) console.error(`warning: ${warning}`);
const percent = (x) => (x == null ? '' : `${(100 * x).toFixed(0)}%`);
const table = [
  '| workload | mode | system | config | threads | samples/s (median) | spread | GFLOP/s | % of FP32 limit | % of the limit at its windows | ratio to PyTorch (best config) |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.workload} | ${r.mode} | ${r.system} | ${r.system === 'convkit' ? r.backend : r.backend + (r.best ? ' (best)' : '')} | ${r.threads} | ${r.samplesPerSecond.toFixed(0)} | ±${(50 * r.spread).toFixed(0)}% | ${r.gflops == null ? '' : r.gflops.toFixed(1)} | ${percent(r.fractionOfLimit)} | ${percent(r.fractionOfLimitAtWindows)} | ${r.ratioToPytorch == null ? '' : `${r.ratioToPytorch.toFixed(2)}× (vs ${r.pytorchConfig})`} |`),
].join('\n');
console.log(`FP32 limit (oneDNN sgemm): ${limitThreads.map((t) => `${t} thread(s) ${limitAt(t)?.toFixed(1) ?? 'not measured'} GFLOP/s`).join(', ')}`);
console.log(table);
for (const a of anatomies) {
  console.log(`${a.workload} train step, ${a.backend}, ${a.threads} thread(s): ${a.wallMsPerStep.toFixed(1)} ms, ${a.kernelsPerStep} kernels, ${a.kernelMsPerStep.toFixed(1)} ms in kernels, ${a.jsMsPerStep.toFixed(1)} ms outside (${percent(a.jsShare)}), peak tensor memory ${a.peakTensorMBPerStep?.toFixed(1)} MB`);
}
for (const t of threadScaling) {
  console.log(`${t.workload} train, ${t.threads[1]} threads / 1 thread in one process, ${t.system} ${t.config}: ${t.ratio.toFixed(2)}× (${t.samplesPerSecond[1].toFixed(0)} → ${t.samplesPerSecond[t.threads[1]].toFixed(0)} samples/s, medians of ${t.windows[1].length} alternating windows each)`);
}
for (const c of parallelCeiling) {
  console.log(`${c.workload} train, the ceiling of ${c.threads} cores here: ${c.threads} independent 1-thread processes at once ${c.ceiling.toFixed(2)}× one alone at batch ${c.batch} each, ${c.splitCeiling.toFixed(2)}× at batch ${c.splitBatch} each (the batch split between them, no gradient exchange); one process with ${c.threads} threads in the same rounds: ${c.achieved.toFixed(2)}×, ${percent(c.achieved / c.ceiling)} of the ceiling`);
}
const root = join(here, '..', '..', '..');
const file = option('out', process.env.CONVKIT_BENCH_OUT ?? join(root, 'results', 'bench', 'core.json'));
mkdirSync(dirname(file), { recursive: true });
const fp32Limit = {
  method: `oneDNN dnnl_sgemm through @convkit/native matMul on Float32Arrays, m = n = k = ${peakSize}, best of ${peakRepeats} after one warm-up, one process per thread count, at the start and at the end of the run; the limit is the best of all`,
  gflopsByThreads: Object.fromEntries(limitThreads.map((t) => [t, limitAt(t)])),
  runs: limits,
};
const loadAverage = { start: loadStart, end: loadavg(), note: 'os.loadavg() (1, 5, 15 min) when the run started and ended' };
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores, loadAverage, batch, repeats, rounds, optimizer: trainOptimizer, layers: convLayers, loss: lossKind, fp32Limit, flopConvention: FLOP_CONVENTION, flopsPerSample: flops, pytorchConfigs, pytorchEnv, anatomy: anatomies, threadScaling: { method: 'one process per system started with every core; windows of training steps (the rows\' window length) alternate between 1 thread and every core (convkit: @convkit/native setThreads, oneDNN\'s and the addon\'s OpenMP threads, the wasm backend\'s own threads as started; PyTorch: torch.set_num_threads and openblas_set_num_threads), the order swapping each round; ratio = median over rounds of the paired windows\' ratio', rows: threadScaling }, parallelCeiling: { method: `the same number of independent 1-thread convkit processes as the scaling rows' cores, started together once each has built W1 and trained for 1.5 s, each timing windows of ${ceilingDuration} ms of training steps when told (the idle ones wait on their stdin); their summed samples/s against one such process alone, at the full batch each (full) and at batch / cores each (split: the batch divided as data parallelism would, without exchanging gradients), and one process with every core as threads (threads); the order alternates each round; ceiling = median over rounds of full / alone, splitCeiling of split / alone, achieved of threads / alone`, rows: parallelCeiling }, warnings, rows }, null, 2)}\n`,
);
console.log(`wrote ${file}`);
