#!/usr/bin/env node
// Each package depends on exactly what its shipped code imports, both ways:
// - every package a shipped file imports (src/**/*.ts without tests, benches and test helpers, and the plain .js/.mjs
//   files it ships such as bin/ and scripts/) is in `dependencies` or `peerDependencies`;
// - every entry of `dependencies`, `peerDependencies` and `optionalDependencies` is imported by a shipped file, or,
//   for an optional one (`peerDependenciesMeta.<name>.optional`, `optionalDependencies`), named as a string in one
//   (packages found at run time, such as tfjs-node through loadOptionalPackage).
// Imports are read with TypeScript's own pre-processor (comments and strings are not mistaken for imports).
//
//   node scripts/check-deps.mjs [folder ...]        e.g. node scripts/check-deps.mjs packages/optim
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '..');
const NOT_SHIPPED = /\.(test|bench)\.ts$|\.test-helpers\.ts$|\.d\.ts$/;
const builtins = new Set(builtinModules);

/** The package name a bare specifier names ('@scope/name/sub' → '@scope/name', 'name/sub' → 'name'), else undefined. */
export function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || specifier.includes(':')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtins.has(name) ? undefined : name;
}

function walk(dir, accept, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(path, accept, out);
    } else if (accept(path)) out.push(path);
  }
  return out;
}

/** The source files that ship or compile into what ships: src/ without tests, plus plain scripts named in `files`. */
function shippedSources(folder, manifest) {
  const dir = join(root, folder);
  const sources = walk(join(dir, 'src'), (path) => /\.(ts|mts|cts)$/.test(path) && !NOT_SHIPPED.test(path));
  for (const entry of manifest.files ?? []) {
    if (entry.startsWith('!') || entry === 'dist' || entry === 'src') continue;
    const path = join(dir, entry);
    if (!existsSync(path)) continue;
    const isScript = (file) => /\.(js|mjs|cjs)$/.test(file);
    if (statSync(path).isDirectory()) sources.push(...walk(path, isScript));
    else if (isScript(path)) sources.push(path);
  }
  return sources;
}

/** Checks one package; returns its problems as sentences. */
export function checkPackage(folder) {
  const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8'));
  const imported = new Map(); // package → first file that imports it
  const strings = new Set();
  for (const file of shippedSources(folder, manifest)) {
    const text = readFileSync(file, 'utf8');
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      const name = packageOf(fileName);
      if (name !== undefined && name !== manifest.name && !imported.has(name)) imported.set(name, relative(join(root, folder), file));
    }
    for (const match of text.matchAll(/['"`](@?[a-z0-9][\w.-]*(?:\/[\w.-]+)?)['"`]/g)) strings.add(match[1]);
  }
  const optionalPeers = Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta?.optional).map(([name]) => name);
  const optional = new Set([...optionalPeers, ...Object.keys(manifest.optionalDependencies ?? {})]);
  const declared = {
    dependencies: Object.keys(manifest.dependencies ?? {}),
    peerDependencies: Object.keys(manifest.peerDependencies ?? {}),
    optionalDependencies: Object.keys(manifest.optionalDependencies ?? {}),
  };
  const problems = [];
  const all = new Set(Object.values(declared).flat());
  for (const [name, file] of imported) {
    if (!all.has(name)) problems.push(`${file} imports ${name}, which is not in dependencies or peerDependencies`);
  }
  for (const [field, names] of Object.entries(declared)) {
    for (const name of names) {
      if (imported.has(name)) continue;
      if (optional.has(name) && strings.has(name)) continue;
      problems.push(`${field} lists ${name}, which no shipped file ${optional.has(name) ? 'imports or names' : 'imports'}`);
    }
  }
  for (const name of optionalPeers) {
    if (!declared.peerDependencies.includes(name)) problems.push(`peerDependenciesMeta marks ${name} optional, but peerDependencies does not list it`);
  }
  return problems;
}

function workspaceFolders() {
  return ['packages', 'examples'].flatMap((parent) =>
    readdirSync(join(root, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, parent, d.name, 'package.json')) && existsSync(join(root, parent, d.name, 'src')))
      .map((d) => `${parent}/${d.name}`),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const folders = process.argv.length > 2 ? process.argv.slice(2) : workspaceFolders();
  let failed = 0;
  for (const folder of folders) {
    const problems = checkPackage(folder);
    if (problems.length === 0) console.log(`ok   ${folder}`);
    else {
      failed++;
      console.log(`FAIL ${folder}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    }
  }
  console.log(`check-deps: ${folders.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
