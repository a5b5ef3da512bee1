#!/usr/bin/env node
// Installs every publishable package as a user would: `npm pack` each one, install the tarball (with the
// tarballs of the convkit packages it depends on, and tfjs from the registry) into an empty folder outside the
// workspace, and
// 1. run a small program that imports it by name and does one real thing (scripts/pack-smoke/<folder>.mjs);
// 2. run its README's first example verbatim (the first ```ts or ```js block): TypeScript is compiled with tsc
//    (strict, NodeNext) as a user would, and each `// → value` comment must match what the example prints, in order
//    (`…` matches anything; spaces are ignored). Packages an `npm install` line above the example names are installed too;
// then train the quick start model (examples/quickstart.mjs at CONVKIT_SIZE=smoke) in an empty project holding only
// the packages it imports.
// Catches missing files in "files", broken "exports", deep imports, dependencies on workspace-only files, and
// README examples that do not run or print something else. Covers the public packages and the examples (a third
// party's plugin).
//
//   node scripts/pack-check.mjs [--release] [--no-quickstart] [folder ...]     e.g. node scripts/pack-check.mjs packages/plot
// --release packs the packages at the versions the pending changesets release (applied to a copy, see
// release-copy.mjs), so the tarballs are the ones `npm publish` would upload.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { releaseCopy, root, workspaceFolders } from './release-copy.mjs';

const smokeDir = join(root, 'scripts', 'pack-smoke');
const TYPESCRIPT = ['typescript@~5.9.3', '@types/node@^20.19.0'];
const TSCONFIG = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, types: ['node'], outDir: 'out' },
  files: ['example.ts'],
};

/** The first ```ts/```js block of a README, and the packages the `npm install` lines above it name. */
export function readmeExample(readme) {
  const block = /^```(ts|typescript|js|javascript|mjs)\n([\s\S]*?)^```/m.exec(readme);
  if (block === null) return undefined;
  // The install command a reader runs before the example: `npm install` lines above it.
  const installs = [...readme.slice(0, block.index).matchAll(/^\s*npm (?:i|install)\s+(.+)$/gm)].flatMap((match) =>
    match[1].replace(/\s#.*$/, '').split(/\s+/).filter((word) => word !== '' && !word.startsWith('-')),
  );
  return { typescript: block[1].startsWith('t'), code: block[2], installs };
}

/** The `// → value` comments of an example, in order; `// →` lines right below one continue its value. */
export function expectedOutputs(code) {
  const values = [];
  let previous = false;
  for (const line of code.split('\n')) {
    const match = /\/\/\s*→\s*(.+?)\s*$/.exec(line);
    if (match !== null && previous && line.trimStart().startsWith('//')) values[values.length - 1] += ` ${match[1]}`;
    else if (match !== null) values.push(match[1]);
    previous = match !== null;
  }
  return values;
}

/**
 * Matches each expected value, in order, against whole printed lines (or a few consecutive lines, for values Node
 * spreads over several); returns the expected values that were not found.
 */
export function unmatchedOutputs(expected, stdout) {
  const squash = (text) => text.replace(/\s+/g, '');
  const lines = stdout.split('\n').map(squash);
  const missing = [];
  let from = 0;
  for (const value of expected) {
    const pattern = new RegExp(`^${squash(value).split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    let found = -1;
    for (let start = from; start < lines.length && found === -1; start++) {
      for (let span = 1; span <= 12 && start + span <= lines.length; span++) {
        if (pattern.test(lines.slice(start, start + span).join(''))) {
          found = start + span;
          break;
        }
      }
    }
    if (found === -1) missing.push(value);
    else from = found;
  }
  return missing;
}

function main() {
  const args = process.argv.slice(2);
  const release = args.includes('--release');
  const quickstart = !args.includes('--no-quickstart');
  const wanted = args.filter((arg) => !arg.startsWith('--'));

  const copy = release ? releaseCopy() : undefined;
  const base = copy?.dir ?? root;
  const all = workspaceFolders(base)
    .map((folder) => ({ folder, manifest: JSON.parse(readFileSync(join(base, folder, 'package.json'), 'utf8')) }))
    .filter(({ folder, manifest }) => !manifest.private || folder.startsWith('examples/'));
  const byName = new Map(all.map((p) => [p.manifest.name, p]));
  const selected = wanted.length ? all.filter((p) => wanted.includes(p.folder)) : all;
  if (wanted.length && selected.length !== wanted.length) {
    console.error(`pack-check: unknown folder in ${wanted.join(', ')} (publishable: ${all.map((p) => p.folder).join(', ')})`);
    process.exit(2);
  }
  if (release) console.log(`pack-check at the release versions: ${selected.map((p) => `${p.manifest.name}@${p.manifest.version}`).join(', ')}`);

  const work = mkdtempSync(join(tmpdir(), 'convkit-pack-'));
  const tarballs = new Map();
  const pack = (entry) => {
    if (!tarballs.has(entry.manifest.name)) {
      const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: join(base, entry.folder), encoding: 'utf8' });
      tarballs.set(entry.manifest.name, join(work, out.trim().split('\n').pop()));
    }
    return tarballs.get(entry.manifest.name);
  };
  /** The packages and the convkit packages they need (dependencies, peer and optional dependencies), transitively. */
  const closure = (names, seen = new Set()) => {
    for (const name of names) {
      const entry = byName.get(name);
      if (entry === undefined || seen.has(name)) continue;
      seen.add(name);
      const { dependencies, peerDependencies, optionalDependencies } = entry.manifest;
      closure(Object.keys({ ...dependencies, ...peerDependencies, ...optionalDependencies }), seen);
    }
    return seen;
  };
  /** An empty project with the convkit packages (as tarballs, with their closure) and the registry packages installed. */
  const project = (name, convkit, registry) => {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }));
    const specs = [...closure(convkit)].map((n) => pack(byName.get(n)));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs, '@tensorflow/tfjs@4.22.0', ...registry], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return dir;
  };
  const env = { ...process.env, CONVKIT_THREADS: '1' };
  const node = (dir, file, extraEnv = {}) =>
    execFileSync('node', [file], { cwd: dir, encoding: 'utf8', env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });

  let passed = 0;
  let failed = 0;
  const report = (ok, label, started, detail) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${label} (${((Date.now() - started) / 1000).toFixed(1)}s)${ok ? `: ${detail}` : `\n${detail}`}`);
    if (ok) passed++;
    else failed++;
  };
  const failure = (error) => String(error.stderr ?? '') + String(error.stdout ?? '') || String(error.message);

  try {
    for (const entry of selected) {
      const label = `${entry.manifest.name}@${entry.manifest.version} (${entry.folder})`;
      const started = Date.now();
      const readmePath = join(base, entry.folder, 'README.md');
      const example = existsSync(readmePath) ? readmeExample(readFileSync(readmePath, 'utf8')) : undefined;
      let dir;
      try {
        const smoke = join(smokeDir, `${basename(entry.folder)}.mjs`);
        if (!existsSync(smoke)) throw new Error(`no smoke program ${smoke}`);
        // An install line names packages with or without a version: '@convkit/optim', 'sharp@0.34'.
        const named = (example?.installs ?? []).map((spec) => ({ spec, name: spec.replace(/(?<=.)@[^/]*$/, '') }));
        const convkit = [entry.manifest.name, ...named.filter(({ name }) => byName.has(name)).map(({ name }) => name)];
        const registry = [
          ...named.filter(({ name }) => !byName.has(name) && name !== '@tensorflow/tfjs').map(({ spec }) => spec),
          ...(example?.typescript ? TYPESCRIPT : []),
        ];
        dir = project(basename(entry.folder), convkit, registry);
        copyFileSync(smoke, join(dir, 'smoke.mjs'));
        const output = node(dir, 'smoke.mjs');
        report(true, `${label} smoke`, started, output.trim().split('\n').pop());
      } catch (error) {
        report(false, `${label} smoke`, started, failure(error));
        continue;
      }
      if (example === undefined) {
        if (!entry.manifest.private) report(false, `${label} README example`, Date.now(), 'README.md has no ```ts or ```js example');
        continue;
      }
      const exampleStarted = Date.now();
      try {
        let file = 'example.mjs';
        if (example.typescript) {
          writeFileSync(join(dir, 'example.ts'), example.code);
          writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
          execFileSync(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
          file = join('out', 'example.js');
        } else writeFileSync(join(dir, file), example.code);
        const output = node(dir, file);
        const expected = expectedOutputs(example.code);
        const missing = unmatchedOutputs(expected, output);
        if (missing.length > 0) throw Object.assign(new Error('output differs'), { stdout: `printed:\n${output}\nnot printed, in order: ${missing.map((m) => `"${m}"`).join(', ')}\n` });
        report(true, `${label} README example`, exampleStarted, `${example.typescript ? 'tsc, ' : ''}${expected.length} printed value(s) as the README says`);
      } catch (error) {
        report(false, `${label} README example`, exampleStarted, failure(error));
      }
    }
    if (quickstart && wanted.length === 0) {
      const started = Date.now();
      const label = 'quick start (examples/quickstart.mjs, smoke size)';
      try {
        const script = readFileSync(join(base, 'examples', 'quickstart.mjs'), 'utf8');
        const imported = [...new Set([...script.matchAll(/from '(@convkit\/[\w-]+)'/g)].map((m) => m[1]))];
        const dir = project('quickstart', imported, []);
        mkdirSync(join(dir, 'examples'));
        writeFileSync(join(dir, 'examples', 'quickstart.mjs'), script);
        const output = node(dir, join('examples', 'quickstart.mjs'), { CONVKIT_SIZE: 'smoke' });
        const metricsFile = join(dir, 'build', 'quickstart-smoke', 'metrics.json');
        const metrics = JSON.parse(readFileSync(metricsFile, 'utf8'));
        if (!(metrics.testAccuracy > 0.1)) throw new Error(`test accuracy ${metrics.testAccuracy} after a smoke run (chance is 0.1)\n${output}`);
        report(true, label, started, `${imported.join(', ')} installed alone; test accuracy ${(100 * metrics.testAccuracy).toFixed(1)}% on ${metrics.testImages} images`);
      } catch (error) {
        report(false, label, started, failure(error));
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    copy?.dispose();
  }
  console.log(`pack-check: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
