import { existsSync } from 'node:fs';
import { BACKEND_NAMES, BACKEND_REQUIREMENTS } from './backend-catalog.js';
import type { BackendName } from './backend-catalog.js';
import { initBackend } from './backend.js';
import { CUDA_LIBRARIES, DEFAULT_CUDA_DIRS, cudaSearch, defaultRunCommand, findLibraries } from './cuda-libraries.js';
import type { DoctorLibrary, RunCommand } from './cuda-libraries.js';
import { listKernelAssignments, listKernelProviders, summariseKernels } from './kernel-registry.js';
import type { KernelAssignment, KernelProviderStatus } from './kernel-registry.js';
import { describeAdapter, probeWebGpu } from './webgpu-backend.js';
import type { WebGpuAdapterInfo } from './webgpu-backend.js';

export { CUDA_LIBRARIES, DEFAULT_CUDA_DIRS };
export type { DoctorLibrary, RunCommand };
import { firstLine, isInstalled, loadOptionalPackage } from './optional-package.js';
import type { RequireFunction } from './optional-package.js';

/** One backend as the doctor sees it. */
export interface DoctorBackend {
  name: BackendName;
  installed: boolean;
  /** `'ok'`, `'failed'` (with the error's first line in `detail`), or `'not-tried'` (not installed). */
  load: 'ok' | 'failed' | 'not-tried';
  detail: string;
  install: string;
}

/** The structured result of {@link doctor}; {@link formatDoctorReport} renders it. */
export interface DoctorReport {
  node: string;
  platform: string;
  backends: DoctorBackend[];
  cuda: { requirement: string; searched: string[]; libraries: DoctorLibrary[]; missing: string[] };
  driver: { found: boolean; detail: string };
  /** The WebGPU adapter Dawn offers (named, with its limits), or why there is none. */
  webgpu: { adapter?: WebGpuAdapterInfo; detail: string };
  willRun: BackendName | undefined;
  willRunDetail: string;
  /** On the backend that will run: every kernel provider (active, declined with its reason, disabled) and who serves each kernel. */
  kernels: { backend: string; summary: string; providers: KernelProviderStatus[]; assignments: KernelAssignment[] } | undefined;
}

/** Options of {@link doctor}; every probe is injectable for tests. */
export interface DoctorOptions {
  /** Environment (`LD_LIBRARY_PATH`, `CONVKIT_BACKEND`). Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directories searched after `LD_LIBRARY_PATH`. Defaults to {@link DEFAULT_CUDA_DIRS}. */
  searchDirs?: readonly string[];
  /** Runs `ldconfig -p` and `nvidia-smi`. Defaults to `execFileSync` with a 5 s timeout. */
  runCommand?: RunCommand;
  /** Whether a file exists. Defaults to `fs.existsSync`. */
  fileExists?: (path: string) => boolean;
  /** `require` for optional packages. Defaults to Node's, relative to @convkit/core. */
  requireFunction?: RequireFunction;
  /** Whether to run {@link initBackend} to learn what would run (it switches tfjs's backend). Defaults to `true`. */
  probeBackend?: boolean;
}

function probeBackends(requireFunction: RequireFunction | undefined): DoctorBackend[] {
  return BACKEND_NAMES.map((name) => {
    const requirement = BACKEND_REQUIREMENTS[name];
    const base = { name, install: `${requirement.install} (${requirement.note})` };
    const installed = requirement.packages.every((pkg) => isInstalled(pkg, requireFunction));
    if (!installed) {
      const missing = requirement.packages.filter((pkg) => !isInstalled(pkg, requireFunction));
      return { ...base, installed, load: 'not-tried' as const, detail: `not installed (${missing.join(', ')})` };
    }
    for (const pkg of requirement.packages) {
      const loaded = loadOptionalPackage(pkg, requireFunction);
      if (loaded.status !== 'ok') return { ...base, installed, load: 'failed' as const, detail: `${pkg}: ${loaded.detail}` };
    }
    return { ...base, installed, load: 'ok' as const, detail: 'loads' };
  });
}

function probeDriver(runCommand: RunCommand, fileExists: (path: string) => boolean): { found: boolean; detail: string } {
  const smi = runCommand('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader']);
  if (smi !== undefined && smi.trim() !== '') return { found: true, detail: `nvidia-smi: ${smi.trim().split('\n').join('; ')}` };
  if (fileExists('/proc/driver/nvidia/version')) return { found: true, detail: 'driver present (/proc/driver/nvidia/version), nvidia-smi not runnable' };
  return { found: false, detail: 'no NVIDIA driver (nvidia-smi not found, no /proc/driver/nvidia/version)' };
}

/**
 * Diagnoses why a fast backend is or is not used: for each backend whether its packages are
 * installed (with the install command) and load (with the error's first line); for tfjs-node-gpu
 * which CUDA 11.2 / cuDNN 8.1 libraries libtensorflow 2.9.1 needs, found or missing by file name;
 * whether an NVIDIA driver is present; the WebGPU adapter (vendor, architecture, device, driver, buffer limits) or why
 * there is none; which backend {@link initBackend} would pick; and on it, which kernel provider serves each kernel
 * (oneDNN, convkit's wasm or WGSL kernels, tfjs's stock) and why a provider declined.
 *
 * Why: "training is slow" usually means a native backend silently failed to load. `npx convkit
 * doctor` prints this report; `--json` prints the structure.
 *
 * Libraries are searched in `LD_LIBRARY_PATH`, then `searchDirs`, then `ldconfig -p`. With
 * `probeBackend` (default) it calls `initBackend({ log: false })`, which switches tfjs's active
 * backend. Makes no tensors.
 *
 * @example
 * ```ts
 * const report = await doctor();
 * console.log(formatDoctorReport(report));
 * report.cuda.missing; // e.g. ['libcudnn.so.8']
 * ```
 */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const runCommand = options.runCommand ?? defaultRunCommand;
  const fileExists = options.fileExists ?? existsSync;
  const { dirs, ldconfig } = cudaSearch(env, options.searchDirs ?? DEFAULT_CUDA_DIRS, runCommand);
  const libraries = findLibraries(dirs, ldconfig, fileExists);
  const backends = probeBackends(options.requireFunction);
  const gpu = await probeWebGpu(options.requireFunction);
  const webgpu = gpu.status === 'ok' ? { adapter: gpu.adapter, detail: describeAdapter(gpu.adapter) } : { detail: gpu.detail };

  let willRun: BackendName | undefined;
  let willRunDetail = 'not probed';
  let kernels: DoctorReport['kernels'];
  if (options.probeBackend !== false) {
    try {
      const report = await initBackend({ log: false, env, ...(options.requireFunction ? { requireFunction: options.requireFunction } : {}) });
      willRun = report.name;
      willRunDetail = report.summary;
      const backend = report.tfBackend;
      kernels = { backend, summary: summariseKernels(backend) ?? 'stock only', providers: listKernelProviders(backend), assignments: listKernelAssignments(backend) };
    } catch (error) {
      willRunDetail = `initBackend failed: ${firstLine(error)}`;
    }
  }
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    backends,
    cuda: {
      requirement: 'tfjs-node-gpu 4.22 loads libtensorflow 2.9.1, which needs CUDA 11.2 and cuDNN 8.1',
      searched: [...dirs, ...(ldconfig === undefined ? [] : ['ldconfig -p'])],
      libraries,
      missing: libraries.filter((library) => !library.found).map((library) => library.file),
    },
    driver: probeDriver(runCommand, fileExists),
    webgpu,
    willRun,
    willRunDetail,
    kernels,
  };
}

/**
 * Renders a {@link DoctorReport} as the text `npx convkit doctor` prints.
 *
 * @example
 * ```ts
 * console.log(formatDoctorReport(await doctor()));
 * ```
 */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`convkit doctor: Node ${report.node} on ${report.platform}`, '', 'backends, fastest first:'];
  for (const backend of report.backends) {
    const state = !backend.installed
      ? `not installed; install: ${backend.install}`
      : backend.load === 'ok'
        ? 'installed, loads'
        : `installed, does not load: ${backend.detail}`;
    lines.push(`  ${backend.name.padEnd(8)} ${state}`);
  }
  const found = report.cuda.libraries.filter((library) => library.found);
  lines.push('', `CUDA for node-gpu (${report.cuda.requirement}):`);
  lines.push(`  found:   ${found.length === 0 ? 'none' : found.map((library) => `${library.file} (${library.path})`).join(', ')}`);
  lines.push(`  missing: ${report.cuda.missing.length === 0 ? 'none' : report.cuda.missing.join(', ')}`);
  lines.push(`  searched: ${report.cuda.searched.join(', ')}`);
  lines.push(`  driver:  ${report.driver.detail}`);
  const adapter = report.webgpu.adapter;
  const software = adapter?.software === true ? `\n  a software adapter: 'auto' keeps wasm (faster here); CONVKIT_BACKEND=webgpu forces it` : '';
  lines.push('', `WebGPU adapter: ${report.webgpu.detail}${software}`);
  lines.push('', `will run: ${report.willRun ?? 'unknown'} (${report.willRunDetail})`);
  if (report.kernels !== undefined) {
    lines.push('', `kernels on ${report.kernels.backend}: ${report.kernels.summary}`);
    for (const provider of report.kernels.providers) {
      const state = provider.status === 'active' ? `active, serves ${provider.serving} of ${provider.kernels.length}` : `${provider.status}: ${provider.reason ?? ''}`;
      lines.push(`  provider ${provider.name} (${provider.label}, priority ${provider.priority}): ${state}`);
    }
    for (const assignment of report.kernels.assignments) {
      lines.push(`  ${assignment.kernel.padEnd(36)} ${[assignment.servedBy, ...assignment.fallbacks].join(' → ')}`);
    }
  }
  return lines.join('\n');
}
