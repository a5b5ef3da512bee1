// Loads @tensorflow/tfjs-backend-wasm (which registers the 'wasm' backend and its kernels) and
// lowers its priority below 'cpu'. The wasm backend initialises asynchronously, so at its stock
// priority (2) every synchronous tensor op made before `await tf.ready()` throws "The highest
// priority backend 'wasm' has not yet been initialized". convkit chooses backends explicitly with
// initBackend(), so merely importing @convkit/core must not change tfjs's default.
// The factory is wrapped so that however wasm initialises (initBackend() or tf.setBackend('wasm')), Emscripten's
// glue adds no re-throwing process handlers (process-handlers.ts).
// This is the package's one side-effect module (see "sideEffects" in package.json).
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { withoutGlueProcessHandlers } from './process-handlers.js';

/** Priority below cpu's (1), so tfjs never picks wasm implicitly. */
const WASM_PRIORITY = 0;

const factory = tf.findBackendFactory('wasm');
const initialised = (tf.engine().registry as Record<string, unknown>)['wasm'] !== undefined;
if (factory !== null && factory !== undefined && !initialised) {
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => withoutGlueProcessHandlers(async () => factory()), WASM_PRIORITY);
}

export { getThreadsCount, setThreadsCount };
