// The CUDA 11.2 / cuDNN 8.1 shared libraries tfjs-node-gpu 4.22 needs, looked up by file name.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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

/** One CUDA/cuDNN library and where it was found. */
export interface DoctorLibrary {
  file: string;
  found: boolean;
  path?: string;
}

/** Runs a command and returns its stdout, or `undefined` if it cannot run. */
export type RunCommand = (command: string, args: string[]) => string | undefined;

/** `execFileSync` with a 5 s timeout, stdout only; `undefined` when the command cannot run. */
export const defaultRunCommand: RunCommand = (command, args) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};

/** Where each of {@link CUDA_LIBRARIES} is: the first of `dirs` that holds it, else `ldconfig -p`'s answer. */
export function findLibraries(dirs: readonly string[], ldconfigOutput: string | undefined, fileExists: (path: string) => boolean): DoctorLibrary[] {
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

/** The directories and `ldconfig -p` output {@link findLibraries} searches: `LD_LIBRARY_PATH`, then `searchDirs`. */
export function cudaSearch(
  env: Readonly<Record<string, string | undefined>>,
  searchDirs: readonly string[] = DEFAULT_CUDA_DIRS,
  runCommand: RunCommand = defaultRunCommand,
): { dirs: string[]; ldconfig: string | undefined } {
  const ldLibraryPath = (env['LD_LIBRARY_PATH'] ?? '').split(':').filter((dir) => dir !== '');
  return { dirs: [...ldLibraryPath, ...searchDirs], ldconfig: runCommand('ldconfig', ['-p']) ?? runCommand('/sbin/ldconfig', ['-p']) };
}

/** The file names of {@link CUDA_LIBRARIES} not found in `LD_LIBRARY_PATH`, {@link DEFAULT_CUDA_DIRS} or `ldconfig -p`. */
export function missingCudaLibraries(env: Readonly<Record<string, string | undefined>>): string[] {
  const { dirs, ldconfig } = cudaSearch(env);
  return findLibraries(dirs, ldconfig, existsSync)
    .filter((library) => !library.found)
    .map((library) => library.file);
}
