// Run by interrupt.test.ts in a child process (with vite-node): a Jupyter kernel as tslab runs it. The host has its own
// SIGINT listener; a "cell" starts a run under vm's breakOnSigint (as tslab runs a cell's synchronous part); then the
// process receives SIGINT. Node would exit (130) if the run's listener had been added under breakOnSigint.
import * as vm from 'node:vm';
import { interruptible, type Interruption } from '../src/interrupt.js';

process.on('SIGINT', () => {}); // the kernel's own listener
const scope = globalThis as { startRun?: () => Interruption; run?: Interruption };
scope.startRun = () => interruptible();
vm.runInThisContext('globalThis.run = globalThis.startRun()', { breakOnSigint: true });
await new Promise((resolve) => setTimeout(resolve, 20));
process.kill(process.pid, 'SIGINT');
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(JSON.stringify({ alive: true, interrupted: scope.run!.interrupted, reason: scope.run!.reason }));
scope.run!.dispose();
