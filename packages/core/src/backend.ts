import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from './wasm-backend.js';
import { BACKEND_NAMES, BACKEND_REQUIREMENTS, parseBackendName } from './backend-catalog.js';
import type { BackendName } from './backend-catalog.js';
import { firstLine, loadOptionalPackage } from './optional-package.js';
import type { RequireFunction } from './optional-package.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';
import { registerWasmOptimizerKernels } from './wasm-optimizer-kernels.js';
import { installCpuKernels } from './cpu-kernels.js';
import { missingCudaLibraries } from './cuda-libraries.js';
import { summariseKernels } from './kernel-registry.js';
import { describeAdapter, probeWebGpu, type WebGpuAdapterInfo } from './webgpu-backend.js';
import { installWebGpuKernels } from './webgpu-kernels.js';
import { declineNativeKernels, loadNativeKernels, registerNativeKernels } from './wasm-native.js';
import { enableWasmThreads, unrefWasmWorkers, wasmInitialised } from './wasm-threads.js';
import type { ConvAlgorithm } from '@convkit/native';

/** The settings of {@link InitBackendOptions.convAlgorithm} (checked here: @convkit/native is optional). */
const CONV_ALGORITHMS: readonly ConvAlgorithm[] = ['auto', 'direct', 'winograd'];

export type { BackendName } from './backend-catalog.js';

/** One rung of the ladder: whether it was used, missing, broken, or not tried, and why. */
export interface BackendAttempt {
  name: BackendName;
  /** `'declined'`: it works but `'auto'` does not pick it (a software WebGPU adapter, slower than wasm). */
  status: 'ok' | 'not-installed' | 'failed' | 'declined' | 'skipped';
  detail: string;
}

/** What {@link initBackend} chose: the convkit name, the tfjs backend name, threads, every attempt. */
export interface BackendReport {
  name: BackendName;
  tfBackend: string;
  threads: number;
  attempts: BackendAttempt[];
  /**
   * On wasm: whether oneDNN's kernels (@convkit/native) run the convolutions and matrix products, and which
   * (`'oneDNN 2.6.3 (avx2)'`), or why not. Absent on the other backends.
   */
  native?: { used: boolean; detail: string };
  /**
   * The convolutions' precision: `'f32'`, or `'bf16'` when it was asked for (`precision` option or
   * `CONVKIT_PRECISION=bf16`) and oneDNN runs them on a CPU with bf16 instructions. `precisionNote` says why a
   * `'bf16'` request was not honoured.
   */
  precision: 'f32' | 'bf16';
  precisionNote?: string;
  /**
   * With oneDNN's kernels: which float32 convolutions run with Winograd (`convAlgorithm` option or
   * `CONVKIT_CONV_ALGORITHM`); absent on other backends, without the addon, or with an addon built before the setting.
   */
  convAlgorithm?: ConvAlgorithm;
  /** The WebGPU adapter, when the webgpu rung found one (also when it passed it over). */
  adapter?: WebGpuAdapterInfo;
  summary: string;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** A backend to force, or `'auto'` for the ladder. Wins over `CONVKIT_BACKEND`. Defaults to `'auto'`. */
  backend?: BackendName | 'auto';
  /**
   * Threads for the wasm backend; ignored elsewhere. With oneDNN's kernels (@convkit/native) they are oneDNN's
   * OpenMP threads and the wasm build runs one thread (`CONVKIT_WASM_THREADS` overrides that); without them, above 1,
   * convkit starts tfjs's multithreaded wasm build in Node (see convkit README, "Performance"). The wasm count takes
   * effect only before wasm's first initialisation in the process. Wins over `CONVKIT_THREADS`. Defaults to
   * `CONVKIT_THREADS`, else all logical cores.
   */
  threads?: number;
  /**
   * On wasm, run convolutions, their gradients and matrix products through oneDNN when @convkit/native is
   * installed and built. Wins over `CONVKIT_NATIVE` (`0` turns it off). Defaults to `true`.
   */
  native?: boolean;
  /**
   * On wasm with oneDNN's kernels, `'bf16'` runs the convolutions (forward and both gradients) with bfloat16 inputs
   * and weights, float32 sums and outputs (AMX or AVX-512 bf16 instructions): 1.5–5× faster convolutions, with
   * results that differ from float32 in the third significant digit. An opt-in; see the convkit README
   * ("Performance") for the accuracy measured on the quick start. Where the CPU or backend cannot, it runs float32
   * and says why (`report.precisionNote`). Wins over `CONVKIT_PRECISION`. Defaults to `'f32'`.
   */
  precision?: 'f32' | 'bf16';
  /**
   * On wasm with oneDNN's kernels, which float32 convolutions run with oneDNN's Winograd F(4×4, 3×3) algorithm:
   * `'auto'` those it speeds up (3×3, stride 1, 32+ input channels, c·oc / (c + oc) ≥ 20, output sides in multiples
   * of 4; AVX-512 CPUs),
   * `'direct'` none (the results of the previous releases bit for bit), `'winograd'` every 3×3 stride-1 convolution
   * oneDNN has a Winograd kernel for. Winograd rounds differently (largest error against float64 about 1.5× the direct
   * algorithm's). Wins over `CONVKIT_CONV_ALGORITHM`. Defaults to `'auto'`.
   */
  convAlgorithm?: ConvAlgorithm;
  /** Where the one-line summary goes; `false` silences it. Defaults to `console.log`. */
  log?: ((line: string) => void) | false;
  /** Environment to read `CONVKIT_BACKEND` from. Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** `require` used to load optional packages (for tests). Defaults to Node's, relative to this package. */
  requireFunction?: RequireFunction;
}

type NativeUse = { used: boolean; detail: string; precision?: 'f32' | 'bf16'; precisionNote?: string; convAlgorithm?: ConvAlgorithm };
type RungResult =
  | { status: 'ok'; threads: number; native?: NativeUse; adapter?: WebGpuAdapterInfo }
  | { status: 'not-installed' | 'failed' | 'declined'; detail: string; adapter?: WebGpuAdapterInfo };

/** The webgpu rung: an adapter, not a software one unless forced, then tfjs's backend and convkit's WGSL kernels on it. */
async function tryWebGpu(forced: boolean, requireFunction: RequireFunction | undefined): Promise<RungResult> {
  const probed = await probeWebGpu(requireFunction);
  if (probed.status !== 'ok') return { status: probed.status === 'not-installed' ? 'not-installed' : 'failed', detail: probed.detail };
  const { adapter } = probed;
  if (adapter.software && !forced) {
    return { status: 'declined', adapter, detail: `software adapter ${describeAdapter(adapter)}: wasm is faster; CONVKIT_BACKEND=webgpu forces it` };
  }
  await activate('webgpu');
  installWebGpuKernels();
  return { status: 'ok', threads: 1, adapter };
}

/** Why tfjs-node-gpu did not load, with the CUDA 11.2 / cuDNN 8.1 library files it needs that are not on this machine. */
function nodeGpuFailure(detail: string, env: Readonly<Record<string, string | undefined>>): string {
  const missing = missingCudaLibraries(env);
  return missing.length === 0 ? detail : `${detail}; missing CUDA 11.2/cuDNN 8.1 libraries: ${missing.join(', ')}`;
}

async function activate(tfBackend: string): Promise<void> {
  const ok = await tf.setBackend(tfBackend);
  if (!ok) throw new Error(`tf.setBackend('${tfBackend}') returned false`);
  await tf.ready();
}

type LoadedNative = Awaited<ReturnType<typeof loadNativeKernels>>;

/**
 * Registers oneDNN's kernels on wasm when wanted and available (`loaded`), at `precision` where the CPU allows it;
 * says which ran or why not.
 */
function useNative(wanted: boolean, threads: number, loaded: LoadedNative | undefined, precision: 'f32' | 'bf16', algorithm: ConvAlgorithm): NativeUse {
  const unavailable = (detail: string): NativeUse => ({
    used: false,
    detail,
    ...(precision === 'bf16' ? { precisionNote: `bf16 needs @convkit/native's oneDNN kernels (${detail})` } : {}),
  });
  if (!wanted || loaded === undefined) {
    declineNativeKernels('native kernels off');
    return unavailable('native kernels off');
  }
  if ('reason' in loaded) {
    declineNativeKernels(loaded.reason);
    return unavailable(loaded.reason);
  }
  registerNativeKernels(loaded.kernels, threads);
  const { setPrecision, setConvAlgorithm } = loaded.kernels;
  setConvAlgorithm?.(algorithm);
  const used = { used: true, detail: loaded.detail, ...(setConvAlgorithm === undefined ? {} : { convAlgorithm: algorithm }) };
  if (setPrecision === undefined) {
    return { ...used, ...(precision === 'bf16' ? { precisionNote: 'bf16 needs a rebuild of @convkit/native' } : {}) };
  }
  try {
    setPrecision(precision);
    return { ...used, precision };
  } catch (error) {
    setPrecision('f32');
    return { ...used, precision: 'f32', precisionNote: firstLine(error) };
  }
}

/**
 * The wasm build's own thread count: with oneDNN's kernels, 1, and the cores go to oneDNN's OpenMP threads, which
 * run the convolutions and matrix products (a second pool of wasm threads on the same cores slowed a W1 training
 * step by 7–13% and VGG's by 4–10% on 2 cores; `CONVKIT_WASM_THREADS` overrides it); without them, every thread.
 */
function wasmThreadCount(threads: number, nativeReady: boolean, env: Readonly<Record<string, string | undefined>>): number {
  const fromEnv = env['CONVKIT_WASM_THREADS'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^[1-9][0-9]*$/.test(fromEnv)) throw new Error(`CONVKIT_WASM_THREADS must be a positive integer (received '${fromEnv}')`);
    return Number(fromEnv);
  }
  return nativeReady ? 1 : threads;
}

interface RungContext {
  threads: number | undefined;
  precision: 'f32' | 'bf16';
  convAlgorithm: ConvAlgorithm;
  requireFunction: RequireFunction | undefined;
  native: boolean;
  forced: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

async function tryRung(name: BackendName, context: RungContext): Promise<RungResult> {
  const { threads, requireFunction, native } = context;
  try {
    if (name === 'webgpu') return await tryWebGpu(context.forced, requireFunction);
    if (name === 'node-gpu' || name === 'node') {
      const loaded = loadOptionalPackage(BACKEND_REQUIREMENTS[name].packages[0] as string, requireFunction);
      if (loaded.status === 'failed' && name === 'node-gpu') return { status: 'failed', detail: nodeGpuFailure(loaded.detail, context.env) };
      if (loaded.status !== 'ok') return { status: loaded.status, detail: loaded.detail };
      await activate(BACKEND_REQUIREMENTS[name].tfBackend);
      return { status: 'ok', threads: availableParallelism() };
    }
    if (name === 'wasm') {
      const count = threads ?? availableParallelism();
      const loaded = native ? await loadNativeKernels() : undefined;
      let undo: (() => void) | undefined;
      if (!wasmInitialised()) {
        const wasmCount = wasmThreadCount(count, loaded !== undefined && 'kernels' in loaded, context.env);
        if (wasmCount > 1) undo = enableWasmThreads();
        setThreadsCount(wasmCount);
      }
      try {
        await activate('wasm');
      } finally {
        undo?.();
      }
      unrefWasmWorkers(tf.findBackend('wasm') ?? undefined);
      registerWasmGradientKernels();
      registerWasmOptimizerKernels();
      const used = useNative(native, count, loaded, context.precision, context.convAlgorithm);
      return { status: 'ok', threads: used.used ? count : getThreadsCount(), native: used };
    }
    await activate('cpu');
    return { status: 'ok', threads: 1 };
  } catch (error) {
    return { status: 'failed', detail: `failed to initialise: ${firstLine(error)}` };
  }
}

function describeAttempt(attempt: BackendAttempt): string {
  if (attempt.status === 'not-installed') {
    return attempt.name === 'node-gpu'
      ? `${attempt.name} (not installed: npm i @tensorflow/tfjs-node-gpu)`
      : `${attempt.name} (not installed)`;
  }
  return `${attempt.name} (${attempt.detail})`;
}

function summarise(
  name: BackendName,
  threads: number,
  attempts: BackendAttempt[],
  forcedBy: string | undefined,
  native: NativeUse | undefined,
  adapter: WebGpuAdapterInfo | undefined,
): string {
  const kernels = native === undefined ? '' : native.used ? `, ${native.detail} kernels` : `, convkit wasm kernels: ${native.detail}`;
  const precision = native?.precision === 'bf16' ? ', bf16 convolutions' : native?.precisionNote !== undefined ? `, f32 (bf16 asked: ${native.precisionNote})` : '';
  // The default ('auto') goes unsaid; a setting a user chose is named.
  const algorithm = native?.convAlgorithm === undefined || native.convAlgorithm === 'auto' ? '' : `, ${native.convAlgorithm} convolutions`;
  const providers = summariseKernels(BACKEND_REQUIREMENTS[name].tfBackend);
  const where = name === 'webgpu' && adapter !== undefined ? `adapter ${describeAdapter(adapter)}` : `${threads} thread${threads === 1 ? '' : 's'}`;
  const head = `backend ${name} (${where}${kernels}${precision}${algorithm})${providers === undefined ? '' : `; kernels: ${providers}`}`;
  if (forcedBy !== undefined) return `${head}; forced by ${forcedBy}`;
  const passed = attempts.filter((attempt) => attempt.status === 'not-installed' || attempt.status === 'failed' || attempt.status === 'declined');
  return passed.length === 0 ? head : `${head}; passed over: ${passed.map(describeAttempt).join(', ')}`;
}

function missingError(name: BackendName, forcedBy: string, detail: string, status: 'not-installed' | 'failed'): Error {
  const requirement = BACKEND_REQUIREMENTS[name];
  if (status === 'not-installed') {
    return new Error(
      `backend '${name}' was requested (${forcedBy}) but ${requirement.packages.join(' and ')} ` +
        `${requirement.packages.length > 1 ? 'are' : 'is'} not installed; install with \`${requirement.install}\` (${requirement.note})`,
    );
  }
  return new Error(`backend '${name}' was requested (${forcedBy}) but could not be used: ${detail}; ${requirement.note}`);
}

/**
 * Picks and initialises the fastest tfjs backend that works here, and says why it passed over
 * the faster ones.
 *
 * Why: tfjs silently falls back to slow backends, and native ones fail for reasons (missing CUDA
 * libraries, no prebuilt binary) that are invisible until training takes ten times too long. The
 * ladder is `node-gpu` (`@tensorflow/tfjs-node-gpu`) → `node` (`@tensorflow/tfjs-node`) → `webgpu`
 * (`@tensorflow/tfjs-backend-webgpu` + `webgpu`) → `wasm` (with convkit's convolution gradient
 * kernels, see {@link registerWasmGradientKernels}, and oneDNN's convolutions and matrix products
 * when `@convkit/native` is built) → `cpu`. Optional packages are loaded at run
 * time, so a missing one is reported, not fatal. The webgpu rung names its adapter (vendor, architecture, device,
 * driver, buffer limits); a software adapter (lavapipe, SwiftShader) is `'declined'`, never picked by `'auto'` over
 * wasm. A tfjs-node-gpu that fails to load is reported with the CUDA 11.2 / cuDNN 8.1 library files that are missing.
 * Every rung installs the kernel registry on its backend (and convkit's cpu fixes on cpu, every backend's
 * reference); the line counts the kernels each provider serves.
 *
 * Force a backend with `options.backend` or the environment variable `CONVKIT_BACKEND` (the option
 * wins); a forced backend that is not installed or fails to load throws with the install command.
 * Calling it again is safe. Makes no tensors.
 *
 * Options:
 * - `backend`: a {@link BackendName} or `'auto'`. Defaults to `CONVKIT_BACKEND`, else `'auto'`.
 * - `threads`: compute threads on wasm, a positive integer. Defaults to `CONVKIT_THREADS`, else all logical cores
 *   (tfjs alone runs single-threaded in Node). With oneDNN's kernels they are oneDNN's threads and the wasm build
 *   itself runs one (two pools on the same cores slow each other; `CONVKIT_WASM_THREADS` overrides it); without,
 *   the wasm build's threads, fixed at its first initialisation in the process.
 * - `native`: on wasm, oneDNN kernels from `@convkit/native` when it is built. Defaults to
 *   `CONVKIT_NATIVE` (`0` or `1`), else `true`.
 * - `log`: receives one line such as `convkit: backend wasm (2 threads, oneDNN 2.6.3 (avx2) kernels); kernels: oneDNN 7,
 *   convkit-wasm 3, convkit-native 3, stock rest; passed over: node-gpu (not installed: npm i @tensorflow/tfjs-node-gpu), node (not
 *   installed), webgpu (software adapter mesa llvmpipe (…): wasm is faster; CONVKIT_BACKEND=webgpu forces it)`;
 *   `false` silences it. Defaults to `console.log`.
 *
 * @example
 * ```ts
 * const report = await initBackend();            // prints the one-line summary
 * console.log(report.name, tf.getBackend());     // 'wasm' 'wasm'
 * await initBackend({ backend: 'cpu', log: false });
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const env = options.env ?? process.env;
  const { threads: fromOptions } = options;
  if (fromOptions !== undefined && (!Number.isInteger(fromOptions) || fromOptions < 1)) {
    throw new Error(`threads must be a positive integer (received ${fromOptions})`);
  }
  const fromEnv = env['CONVKIT_THREADS'];
  if (fromEnv !== undefined && fromEnv !== '' && !/^[1-9][0-9]*$/.test(fromEnv)) {
    throw new Error(`CONVKIT_THREADS must be a positive integer (received '${fromEnv}')`);
  }
  const threads = fromOptions ?? (fromEnv === undefined || fromEnv === '' ? undefined : Number(fromEnv));
  const nativeEnv = env['CONVKIT_NATIVE'];
  if (nativeEnv !== undefined && nativeEnv !== '' && nativeEnv !== '0' && nativeEnv !== '1') {
    throw new Error(`CONVKIT_NATIVE must be 0 or 1 (received '${nativeEnv}')`);
  }
  if (options.native !== undefined && typeof options.native !== 'boolean') {
    throw new Error(`native must be a boolean (received ${String(options.native)})`);
  }
  const native = options.native ?? nativeEnv !== '0';
  const precisionEnv = env['CONVKIT_PRECISION'];
  if (precisionEnv !== undefined && precisionEnv !== '' && precisionEnv !== 'f32' && precisionEnv !== 'bf16') {
    throw new Error(`CONVKIT_PRECISION must be 'f32' or 'bf16' (received '${precisionEnv}')`);
  }
  if (options.precision !== undefined && options.precision !== 'f32' && options.precision !== 'bf16') {
    throw new Error(`precision must be 'f32' or 'bf16' (received ${String(options.precision)})`);
  }
  const precision = options.precision ?? (precisionEnv === 'bf16' ? 'bf16' : 'f32');
  const algorithmEnv = env['CONVKIT_CONV_ALGORITHM'];
  const algorithms: readonly string[] = CONV_ALGORITHMS;
  const expected = CONV_ALGORITHMS.map((a) => `'${a}'`).join(', ');
  if (algorithmEnv !== undefined && algorithmEnv !== '' && !algorithms.includes(algorithmEnv)) {
    throw new Error(`CONVKIT_CONV_ALGORITHM must be one of ${expected} (received '${algorithmEnv}')`);
  }
  if (options.convAlgorithm !== undefined && !algorithms.includes(options.convAlgorithm)) {
    throw new Error(`convAlgorithm must be one of ${expected} (received ${String(options.convAlgorithm)})`);
  }
  const convAlgorithm = options.convAlgorithm ?? ((algorithmEnv || 'auto') as ConvAlgorithm);
  const fromOption = options.backend === undefined ? 'auto' : parseBackendName(options.backend, 'backend');
  const requested =
    fromOption !== 'auto' ? fromOption : parseBackendName(env['CONVKIT_BACKEND'], 'CONVKIT_BACKEND');
  const forcedBy =
    requested === 'auto'
      ? undefined
      : fromOption !== 'auto'
        ? `backend option '${requested}'`
        : `CONVKIT_BACKEND=${requested}`;

  installCpuKernels(); // cpu is every other backend's reference, chosen or not
  const attempts: BackendAttempt[] = [];
  let chosen: { name: BackendName; threads: number; native?: NativeUse } | undefined;
  let adapter: WebGpuAdapterInfo | undefined;
  const context = { threads, precision, convAlgorithm, requireFunction: options.requireFunction, native, forced: forcedBy !== undefined, env };
  for (const name of BACKEND_NAMES) {
    if (chosen !== undefined) {
      attempts.push({ name, status: 'skipped', detail: `not tried: ${chosen.name} was chosen` });
      continue;
    }
    if (forcedBy !== undefined && name !== requested) {
      attempts.push({ name, status: 'skipped', detail: `not tried: ${forcedBy}` });
      continue;
    }
    const result = await tryRung(name, context);
    adapter = result.adapter ?? adapter;
    if (result.status === 'ok') {
      chosen = { name, threads: result.threads, ...(result.native === undefined ? {} : { native: result.native }) };
      attempts.push({ name, status: 'ok', detail: `running on tfjs backend '${tf.getBackend()}'` });
    } else {
      if (forcedBy !== undefined && result.status !== 'declined') throw missingError(name, forcedBy, result.detail, result.status);
      attempts.push({ name, status: result.status, detail: result.detail });
    }
  }
  if (chosen === undefined) throw new Error(`no tfjs backend could be initialised: ${attempts.map(describeAttempt).join(', ')}`);
  const precisionNote = chosen.native?.precisionNote ?? (precision === 'bf16' && chosen.native === undefined ? `bf16 runs only on wasm with @convkit/native's oneDNN kernels (backend ${chosen.name})` : undefined);
  const summary =
    summarise(chosen.name, chosen.threads, attempts, forcedBy, chosen.native, adapter) +
    (chosen.native === undefined && precisionNote !== undefined ? `; f32 (bf16 asked: ${precisionNote})` : '');
  const log = options.log === undefined ? console.log : options.log;
  if (log !== false) log(`convkit: ${summary}`);
  return {
    name: chosen.name,
    tfBackend: tf.getBackend(),
    threads: chosen.threads,
    attempts,
    ...(chosen.native === undefined ? {} : { native: { used: chosen.native.used, detail: chosen.native.detail } }),
    precision: chosen.native?.precision ?? 'f32',
    ...(chosen.native?.convAlgorithm === undefined ? {} : { convAlgorithm: chosen.native.convAlgorithm }),
    ...(precisionNote === undefined ? {} : { precisionNote }),
    ...(adapter === undefined ? {} : { adapter }),
    summary,
  };
}
