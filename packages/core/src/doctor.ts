import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_NAMES, BACKEND_REQUIREMENTS } from './backend-catalog.js';
import type { BackendName } from './backend-catalog.js';
import { initBackend } from './backend.js';
import { firstLine, isInstalled, loadOptionalPackage } from './optional-package.js';
import type { RequireFunction } from './optional-package.js';

/** The shared libraries libtensorflow 2.9.1 (tfjs-node-gpu 4.22) loads: CUDA 11.2 and cuDNN 8.1. */
export const CUDA_LIBRARIES: readonly string[] = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
];

/** Directories searched for {@link CUDA_LIBRARIES} after `LD_LIBRARY_PATH`. */
export const DEFAULT_CUDA_DIRS: readonly string[] = ['/usr/local/cuda/lib64', '/usr/local/cuda-11.2/lib64', '/usr/lib/x86_64-linux-gnu'];

/** One backend as the doctor sees it. */
export interface DoctorBackend {
  name: BackendName;
  installed: boolean;
  /** `'ok'`, `'failed'` (with the error's first line in `detail`), or `'not-tried'` (not installed). */
  load: 'ok' | 'failed' | 'not-tried';
  detail: string;
  install: string;
}

/** One CUDA/cuDNN library and where it was found. */
export interface DoctorLibrary {
  file: string;
  found: boolean;
  path?: string;
}

/** The structured result of {@link doctor}; {@link formatDoctorReport} renders it. */
export interface DoctorReport {
  node: string;
  platform: string;
  backends: DoctorBackend[];
  cuda: { requirement: string; searched: string[]; libraries: DoctorLibrary[]; missing: string[] };
  driver: { found: boolean; detail: string };
  willRun: BackendName | undefined;
  willRunDetail: string;
}

/** Runs a command and returns its stdout, or `undefined` if it cannot run. */
export type RunCommand = (command: string, args: string[]) => string | undefined;

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

const defaultRunCommand: RunCommand = (command, args) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};

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

function findLibraries(dirs: string[], ldconfigOutput: string | undefined, fileExists: (path: string) => boolean): DoctorLibrary[] {
  return CUDA_LIBRARIES.map((file) => {
    for (const dir of dirs) {
      const path = join(dir, file);
      if (fileExists(path)) return { file, found: true, path };
    }
    const line = ldconfigOutput?.split('\n').find((entry) => entry.trim().startsWith(`${file} `));
    const path = line?.split('=>')[1]?.trim();
    return path === undefined ? { file, found: false } : { file, found: true, path };
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
 * whether an NVIDIA driver is present; and which backend {@link initBackend} would pick.
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
  const ldLibraryPath = (env['LD_LIBRARY_PATH'] ?? '').split(':').filter((dir) => dir !== '');
  const dirs = [...ldLibraryPath, ...(options.searchDirs ?? DEFAULT_CUDA_DIRS)];
  const ldconfig = runCommand('ldconfig', ['-p']) ?? runCommand('/sbin/ldconfig', ['-p']);
  const libraries = findLibraries(dirs, ldconfig, fileExists);
  const backends = probeBackends(options.requireFunction);

  let willRun: BackendName | undefined;
  let willRunDetail = 'not probed';
  if (options.probeBackend !== false) {
    try {
      const report = await initBackend({ log: false, env, ...(options.requireFunction ? { requireFunction: options.requireFunction } : {}) });
      willRun = report.name;
      willRunDetail = report.summary;
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
    willRun,
    willRunDetail,
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
  lines.push('', `will run: ${report.willRun ?? 'unknown'} (${report.willRunDetail})`);
  return lines.join('\n');
}
