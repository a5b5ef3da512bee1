#!/usr/bin/env node
// Builds the oneDNN addon (build/Release/convkit_native.node) with node-gyp. Runs at `npm install` and in
// `npm run build`. Without oneDNN's headers or a C++ compiler it prints why and exits 0, so that the package
// installs anyway and convkit runs its own wasm kernels; CONVKIT_NATIVE_REQUIRED=1 makes that an error (CI).
// Skips the compile when the addon is newer than its sources. CONVKIT_NATIVE_SKIP_BUILD=1 skips it always.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const addon = join(root, 'build', 'Release', 'convkit_native.node');
const sources = [join(root, 'binding.gyp'), join(root, 'native', 'addon.cc'), join(root, 'native', 'jpeg.cc'), join(root, 'native', 'jpeg.h'), join(root, 'native', 'conv_pool.inc'), join(root, 'scripts', 'build-addon.mjs')];
const required = process.env.CONVKIT_NATIVE_REQUIRED === '1';
const HOW_TO = 'install oneDNN and a C++ compiler (Debian/Ubuntu: apt-get install libdnnl-dev libjpeg62-turbo-dev g++ make python3), then `npm rebuild @convkit/native`';

function giveUp(reason) {
  const line = `@convkit/native: addon not built: ${reason}. convkit will use its wasm kernels; to build it, ${HOW_TO}.`;
  if (required) {
    console.error(`${line} (CONVKIT_NATIVE_REQUIRED=1: failing)`);
    process.exit(1);
  }
  console.warn(line);
  process.exit(0);
}

if (process.env.CONVKIT_NATIVE_SKIP_BUILD === '1') giveUp('CONVKIT_NATIVE_SKIP_BUILD=1');

if (existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  if (sources.every((file) => statSync(file).mtimeMs <= built)) {
    console.log('@convkit/native: addon up to date');
    process.exit(0);
  }
}

const includeDirs = ['/usr/include', '/usr/local/include', ...(process.env.CPATH ?? '').split(':').filter(Boolean)];
if (!includeDirs.some((dir) => existsSync(join(dir, 'dnnl.hpp')))) giveUp(`oneDNN's header dnnl.hpp is not in ${includeDirs.join(', ')}`);

/** node-gyp: the one npm runs scripts with, else the one bundled with npm next to this Node. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const candidates = [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package; fall back to npm's own
  }
  return candidates.find((file) => existsSync(file));
}

const gyp = nodeGyp();
if (gyp === undefined) giveUp('node-gyp was not found (it comes with npm)');

// Node's headers: node-gyp downloads them unless told where they are. Use the configured nodedir, else the
// headers installed beside this Node (Debian's and NodeSource's packages ship them in <prefix>/include/node).
const args = [gyp, 'rebuild'];
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

console.log('@convkit/native: building the oneDNN addon with node-gyp');
const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.status !== 0 || !existsSync(addon)) {
  const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  const firstError = output.split('\n').find((line) => /error|not found|ERR!/i.test(line)) ?? `node-gyp exited with ${result.status}`;
  if (required) process.stderr.write(output);
  giveUp(`node-gyp failed (${firstError.trim()})`);
}
console.log(`@convkit/native: built ${addon}`);
