// Emscripten's Node glue in @tensorflow/tfjs-backend-wasm (tf-backend-wasm.node.js, both builds) runs
//   process.on('uncaughtException', (ex) => { if (!(ex instanceof ExitStatus)) throw ex; });
//   process.on('unhandledRejection', (reason) => { throw reason; });
// when the wasm module initialises. Those listeners re-throw, so from then on any unhandled rejection or
// uncaught exception kills the process with exit code 7 — and a Jupyter kernel, whose own handlers would have
// printed the error and gone on, dies. convkit must leave the host's process handlers as it found them.
//
// withoutGlueProcessHandlers() runs the wasm initialisation with process.on/addListener intercepted: a listener for
// those two events whose registration comes from the tfjs-backend-wasm package is not added; every other call
// (the host's, a test runner's, the kernel's) passes through unchanged, in order.

/** The process events whose listeners Emscripten's glue adds, and that re-throw. */
const GLUE_EVENTS: ReadonlySet<string | symbol> = new Set(['uncaughtException', 'unhandledRejection']);

/** A stack frame inside the @tensorflow/tfjs-backend-wasm package (npm, pnpm or yarn layouts; / or \). */
const GLUE_FRAME = /[\\/]@tensorflow[\\/+]tfjs-backend-wasm[\\/@]/;

type AddListener = (event: string | symbol, listener: (...args: unknown[]) => void) => NodeJS.Process;

let depth = 0;
let restore: (() => void) | undefined;
const dropped: Record<string, number> = {};

/** Whether the function that called process.on (the frame above the interceptor) belongs to tfjs-backend-wasm. */
function calledFromGlue(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 4;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  // Lines: the message, calledFromGlue, the interceptor, then its caller.
  return GLUE_FRAME.test(stack.split('\n')[3] ?? '');
}

function intercept(): void {
  const proc = process as unknown as Record<'on' | 'addListener', AddListener>;
  const own = {
    on: Object.getOwnPropertyDescriptor(process, 'on'),
    addListener: Object.getOwnPropertyDescriptor(process, 'addListener'),
  };
  const original = { on: proc.on, addListener: proc.addListener };
  for (const method of ['on', 'addListener'] as const) {
    const forward = original[method];
    const interceptor: AddListener = function (this: NodeJS.Process, event, listener) {
      if (GLUE_EVENTS.has(event) && calledFromGlue()) {
        dropped[String(event)] = (dropped[String(event)] ?? 0) + 1;
        return this;
      }
      return forward.call(this, event, listener);
    };
    Object.defineProperty(process, method, { value: interceptor, configurable: true, writable: true });
  }
  restore = () => {
    for (const method of ['on', 'addListener'] as const) {
      const descriptor = own[method];
      if (descriptor === undefined) delete (process as unknown as Record<string, unknown>)[method];
      else Object.defineProperty(process, method, descriptor);
    }
  };
}

/**
 * Runs `initialise` (a wasm backend initialisation) so that Emscripten's glue adds no `uncaughtException` or
 * `unhandledRejection` listener to `process`: the host's handlers stay as they were, and an unhandled rejection
 * after `initBackend()` behaves as it does in plain Node (or as the host's own handlers decide). Calls may nest or
 * overlap; the interception ends when the last one settles.
 */
export async function withoutGlueProcessHandlers<T>(initialise: () => Promise<T>): Promise<T> {
  if (depth++ === 0) intercept();
  try {
    return await initialise();
  } finally {
    if (--depth === 0) {
      restore?.();
      restore = undefined;
    }
  }
}

/** How many glue listeners were kept off `process` in this process, per event (for `doctor` and tests). */
export function droppedGlueProcessHandlers(): Record<string, number> {
  return { ...dropped };
}
