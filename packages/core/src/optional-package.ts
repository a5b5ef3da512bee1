import { createRequire } from 'node:module';

/** How loading an optional package went; `module` is the package's exports when `status` is `'ok'`. */
export type OptionalPackageResult =
  | { readonly status: 'ok'; readonly module: unknown; readonly detail: string }
  | { readonly status: 'not-installed' | 'failed'; readonly module?: undefined; readonly detail: string };

/** A CommonJS-style `require`; injectable so tests can simulate missing or broken packages. */
export type RequireFunction = ((id: string) => unknown) & { resolve(id: string): string };

const defaultRequire: RequireFunction = createRequire(import.meta.url);

/** The first line of an error's message (native-binding errors are many lines long). */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').trim();
}

function isMissing(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  // "Cannot find module '@tensorflow/tfjs-node'" is the package itself; a missing native binding
  // ("Cannot find module '.../tfjs_binding.node'") means installed but broken.
  return firstLine(error).includes(`'${packageName}'`);
}

/**
 * Whether `packageName` resolves from this package, without executing it.
 */
export function isInstalled(packageName: string, requireFunction: RequireFunction = defaultRequire): boolean {
  try {
    requireFunction.resolve(packageName);
    return true;
  } catch (error) {
    if (isMissing(error, packageName)) return false;
    // Resolvable but odd (e.g. exports without a "require" condition): count it as installed.
    return true;
  }
}

/**
 * Loads an optional package at run time, telling "not installed" (the package itself cannot be
 * found) apart from "installed but failed to load" (a missing native library, CUDA, …). Never throws.
 */
export function loadOptionalPackage(
  packageName: string,
  requireFunction: RequireFunction = defaultRequire,
): OptionalPackageResult {
  if (!isInstalled(packageName, requireFunction)) {
    return { status: 'not-installed', detail: 'not installed' };
  }
  try {
    return { status: 'ok', module: withoutDuplicateKernelWarnings(() => requireFunction(packageName)), detail: 'loaded' };
  } catch (error) {
    if (isMissing(error, packageName)) return { status: 'not-installed', detail: 'not installed' };
    return { status: 'failed', detail: `installed but failed to load: ${firstLine(error)}` };
  }
}

const DUPLICATE_KERNEL = /^The kernel '[^']*' for backend '[^']*' is already registered$/;

/**
 * Runs `load` with tfjs's "kernel … is already registered" warnings held back. tfjs-node and
 * tfjs-node-gpu register the same kernels on the `tensorflow` backend; when a broken tfjs-node-gpu
 * fails and tfjs-node is tried next, tfjs would print one such line per kernel (hundreds).
 */
function withoutDuplicateKernelWarnings<T>(load: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]): void => {
    if (args.length === 1 && typeof args[0] === 'string' && DUPLICATE_KERNEL.test(args[0])) return;
    warn(...args);
  };
  try {
    return load();
  } finally {
    console.warn = warn;
  }
}
