// Multithreaded wasm in Node, without a fork of @tensorflow/tfjs-backend-wasm. Three things stop it in 4.22:
// 1. the WASM_HAS_MULTITHREAD_SUPPORT flag answers false whenever tfjs detects Node;
// 2. the pthread worker script is handed to Emscripten as a `blob:` URL, which Node's Worker rejects
//    (ERR_WORKER_PATH), and the main script is posted to the workers as a Blob they cannot import;
// 3. XNNPACK's default thread count is half the logical cores.
// enableWasmThreads() sets the flag, writes the worker script (patched to import the threaded module from its
// file) to convkit's cache folder and answers Emscripten's createObjectURL call with that path while the backend
// initialises, and passes an explicit thread count to setThreadsCount.
// The script is named by a hash of its content and reused by every later process, so runs leave nothing behind;
// where the cache folder cannot be written, a temporary folder is used and removed when the process exits.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

let workerPath: string | undefined;

/** Writes the pthread worker (once per process) and returns its path. */
function workerScript(): string {
  if (workerPath !== undefined) return workerPath;
  const packageDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const threadedModule = join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  if (!wasmWorkerContents.includes('e.data.urlOrBlob')) {
    throw new Error('unexpected @tensorflow/tfjs-backend-wasm worker script (expected 4.22): cannot enable threads');
  }
  // As tfjs does before making its Blob: the template literal turned the script's "\n" escapes into newlines.
  const script = wasmWorkerContents.replace(/\n/g, '\\n').replaceAll('e.data.urlOrBlob', JSON.stringify(threadedModule));
  workerPath = writeWorkerScript(script);
  return workerPath;
}

/**
 * The folder the worker script is cached in: `$CONVKIT_CACHE_DIR/wasm`, else `$XDG_CACHE_HOME/convkit/wasm`, else
 * `~/.cache/convkit/wasm`.
 */
export function wasmCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const root = env['CONVKIT_CACHE_DIR'] || join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'convkit');
  return join(root, 'wasm');
}

/**
 * Writes `script` into the cache folder under a name made from its hash, unless the same content is already there
 * (a file left damaged by a crash is written again), and returns its path. The write is a temporary file renamed into
 * place, so processes starting together never read half a file. Falls back to a temporary folder removed at exit when
 * the cache cannot be written.
 */
export function writeWorkerScript(script: string, cacheDir: string = wasmCacheDir()): string {
  const hash = createHash('sha256').update(script).digest('hex').slice(0, 16);
  const name = `tfjs-backend-wasm-threaded-simd.worker.${hash}.cjs`;
  const cached = join(cacheDir, name);
  try {
    if (!existsSync(cached) || readFileSync(cached, 'utf8') !== script) {
      mkdirSync(cacheDir, { recursive: true });
      const partial = `${cached}.${process.pid}.tmp`;
      writeFileSync(partial, script);
      renameSync(partial, cached);
    }
    return cached;
  } catch {
    const dir = mkdtempSync(join(tmpdir(), 'convkit-wasm-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, name);
    writeFileSync(path, script);
    return path;
  }
}

/**
 * Prepares the wasm backend to start with threads; call before its first initialisation. Returns a function that
 * undoes the temporary createObjectURL hook; call it once the backend has initialised.
 */
export function enableWasmThreads(): () => void {
  const path = workerScript();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const original = URL.createObjectURL;
  URL.createObjectURL = (object: Blob): string =>
    object instanceof Blob && object.type === 'application/javascript' ? path : original(object);
  // XNNPACK caps its thread pool at half of emscripten_num_logical_cores(), which reads os.cpus().length in Node:
  // report twice the cores while the backend initialises, so the cap becomes all of them.
  const os = require('node:os') as { cpus: () => unknown[] };
  const cpus = os.cpus;
  os.cpus = () => {
    const list = cpus();
    return [...list, ...list];
  };
  return () => {
    URL.createObjectURL = original;
    os.cpus = cpus;
  };
}

/** Whether the wasm backend has already been initialised in this process (its thread count is then fixed). */
export function wasmInitialised(): boolean {
  return (tf.engine().registry as Record<string, unknown>)['wasm'] !== undefined;
}

interface PThreadModule {
  PThread?: { unusedWorkers?: { unref?: () => void }[]; runningWorkers?: { unref?: () => void }[] };
}

/**
 * Lets Node exit while the wasm backend's pthread workers are alive (Emscripten keeps them referenced). Call after
 * the threaded backend has initialised; harmless on the single-threaded build.
 */
export function unrefWasmWorkers(backend: tf.KernelBackend | undefined): void {
  const threads = (backend as unknown as { wasm?: PThreadModule } | undefined)?.wasm?.PThread;
  for (const worker of [...(threads?.unusedWorkers ?? []), ...(threads?.runningWorkers ?? [])]) worker.unref?.();
}
