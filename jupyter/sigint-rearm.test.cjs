// `node jupyter/sigint-rearm.test.cjs`: a script run with breakOnSigint adds a SIGINT listener, as a notebook cell
// that starts a fit does; then the process receives SIGINT. Without the preload Node dies of it (exit 130); with it
// both listeners run and the process lives. Run by scripts/jupyter-check.py. Exits 1 when either half fails.
'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const child = `
  const vm = require('node:vm');
  process.on('SIGINT', () => console.log('kernel listener'));
  vm.runInThisContext("process.once('SIGINT', () => console.log('cell listener'))", { breakOnSigint: true });
  setTimeout(() => process.kill(process.pid, 'SIGINT'), 50);
  setTimeout(() => console.log('alive'), 300);`;
function run(preload) {
  try {
    const stdout = execFileSync(process.execPath, [...(preload ? ['--require', join(__dirname, 'sigint-rearm.cjs')] : []), '-e', child], { encoding: 'utf8' });
    return { code: 0, stdout };
  } catch (error) {
    return { code: error.status ?? error.signal, stdout: String(error.stdout) };
  }
}
const without = run(false);
const withPreload = run(true);
const ok = without.code !== 0 && withPreload.code === 0 && /cell listener[\s\S]*kernel listener[\s\S]*alive/.test(withPreload.stdout);
console.log(`${ok ? 'ok  ' : 'FAIL'} SIGINT after a listener added under breakOnSigint: plain Node exits ${without.code}; with jupyter/sigint-rearm.cjs exits ${withPreload.code}, printing ${JSON.stringify(withPreload.stdout.trim().split('\n'))}`);
process.exit(ok ? 0 : 1);
