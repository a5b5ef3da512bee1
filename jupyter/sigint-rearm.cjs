// Preloaded into the tslab kernels (jupyter/kernels/*/kernel.json: node --require <this file>) so that Kernel ›
// Interrupt cannot kill the kernel.
//
// tslab runs each cell with vm.runInThisContext(code, { breakOnSigint: true }). While such a script runs, Node takes
// the SIGINT listeners off and its watchdog owns the signal; when the script ends the watchdog puts back the signal
// disposition it found. A cell that adds a SIGINT listener during its synchronous part (a training loop that stops on
// Ctrl-C, as @convkit/learner's fit does) makes libuv install its handler inside that window, and the watchdog then
// restores the default disposition over it: the listener is registered, yet the next SIGINT (the interrupt) kills
// the process. Re-adding the listeners after each such script re-arms libuv's handler (Node re-installs it when the
// SIGINT listener count goes from 0 to 1). Plain reproduction, without Jupyter: `node jupyter/sigint-rearm.test.cjs`.
'use strict';
const vm = require('node:vm');

function rearmSigint() {
  const listeners = process.rawListeners('SIGINT');
  if (listeners.length === 0) return;
  process.removeAllListeners('SIGINT');
  for (const listener of listeners) process.addListener('SIGINT', listener);
}

function rearmAfter(run) {
  return function (...args) {
    const options = args.find((arg, index) => index > 0 && arg !== null && typeof arg === 'object');
    if (options?.breakOnSigint !== true) return run.apply(this, args);
    try {
      return run.apply(this, args);
    } finally {
      rearmSigint();
    }
  };
}

vm.runInThisContext = rearmAfter(vm.runInThisContext);
vm.Script.prototype.runInThisContext = rearmAfter(vm.Script.prototype.runInThisContext);
module.exports = { rearmSigint };
