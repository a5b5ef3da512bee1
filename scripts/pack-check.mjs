#!/usr/bin/env node
// Installs every publishable package as a user would: `npm pack` each one, install the tarball (with the
// tarballs of the convkit packages it depends on, and tfjs from the registry) into an empty folder outside the
// workspace, and run a small program that imports it by name and does one real thing
// (scripts/pack-smoke/<folder>.mjs). Catches missing files in "files", broken "exports", deep imports and
// dependencies on workspace-only files. Covers the public packages and the examples (a third party's plugin).
//
//   node scripts/pack-check.mjs [folder ...]     e.g. node scripts/pack-check.mjs packages/plot
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const smokeDir = join(root, 'scripts', 'pack-smoke');

function publishable() {
  const folders = [];
  for (const parent of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, parent))) {
      const file = join(root, parent, name, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      if (!manifest.private || parent === 'examples') folders.push({ folder: `${parent}/${name}`, manifest });
    }
  }
  return folders;
}

const all = publishable();
const byName = new Map(all.map((p) => [p.manifest.name, p]));
const wanted = process.argv.slice(2);
const selected = wanted.length ? all.filter((p) => wanted.includes(p.folder)) : all;
if (wanted.length && selected.length !== wanted.length) {
  console.error(`pack-check: unknown folder in ${wanted.join(', ')} (publishable: ${all.map((p) => p.folder).join(', ')})`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'convkit-pack-'));
const tarballs = new Map();
function pack(entry) {
  if (!tarballs.has(entry.manifest.name)) {
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: join(root, entry.folder), encoding: 'utf8' });
    tarballs.set(entry.manifest.name, join(work, out.trim().split('\n').pop()));
  }
  return tarballs.get(entry.manifest.name);
}

/** The package and the convkit packages it needs (dependencies, peer and optional dependencies), transitively. */
function closure(entry, seen = new Set()) {
  if (seen.has(entry.manifest.name)) return seen;
  seen.add(entry.manifest.name);
  const deps = { ...entry.manifest.dependencies, ...entry.manifest.peerDependencies, ...entry.manifest.optionalDependencies };
  for (const name of Object.keys(deps)) if (byName.has(name)) closure(byName.get(name), seen);
  return seen;
}

let passed = 0;
let failed = 0;
for (const entry of selected) {
  const label = `${entry.manifest.name} (${entry.folder})`;
  const smoke = join(smokeDir, `${basename(entry.folder)}.mjs`);
  const started = Date.now();
  try {
    if (!existsSync(smoke)) throw new Error(`no smoke program ${smoke}`);
    const dir = join(work, basename(entry.folder));
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }));
    const specs = [...closure(entry)].map((name) => pack(byName.get(name)));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs, '@tensorflow/tfjs@4.22.0'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    copyFileSync(smoke, join(dir, 'smoke.mjs'));
    const output = execFileSync('node', ['smoke.mjs'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CONVKIT_THREADS: '1' } });
    console.log(`ok   ${label} (${((Date.now() - started) / 1000).toFixed(1)}s): ${output.trim().split('\n').pop()}`);
    passed++;
  } catch (error) {
    console.log(`FAIL ${label} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    console.log(String(error.stderr ?? '') + String(error.stdout ?? '') || String(error.message));
    failed++;
  }
}
rmSync(work, { recursive: true, force: true });
console.log(`pack-check: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
