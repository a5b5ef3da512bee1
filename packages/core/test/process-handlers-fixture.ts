// Run by src/process-handlers.test.ts in a fresh process:
//   vite-node test/process-handlers-fixture.ts <convkit|plain> <rejection|throw> [threads]
// With `convkit`, starts the wasm backend first. Prints one JSON line (the process listener counts before and after,
// and the glue listeners kept off), then leaves an error unhandled: a rejected promise nobody awaits, or a throw in
// a timer. The test compares how the process ends with the same program run without convkit.
import { initBackend } from '../src/backend.js';
import { droppedGlueProcessHandlers } from '../src/process-handlers.js';

const [mode, failure, threads] = process.argv.slice(2);
const counts = (): number[] => ['uncaughtException', 'unhandledRejection'].map((event) => process.listenerCount(event));
const before = counts();
if (mode === 'convkit') await initBackend({ backend: 'wasm', threads: Number(threads ?? 1), log: false, env: {} });
console.log(JSON.stringify({ before, after: counts(), dropped: droppedGlueProcessHandlers() }));
if (failure === 'rejection') void Promise.reject(new Error('unhandled in the fixture'));
else setTimeout(() => {
  throw new Error('thrown in a timer of the fixture');
}, 0);
