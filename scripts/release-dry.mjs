#!/usr/bin/env node
// What `changeset version` + `npm publish` would do, without doing it: applies the pending changesets to a
// throwaway copy of the working tree, then packs every public package there (`npm pack --dry-run`) and prints,
// per package, the version change, the tarball's file count and size, and the new changelog entry.
// Nothing in the repository changes. Run after `npm run build` (the root script `release:dry` does both).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const copy = mkdtempSync(join(tmpdir(), 'convkit-release-'));
try {
  // The working tree as git sees it (tracked and new files, not ignored ones), plus the built dist/ folders.
  const files = run('git', ['ls-files', '-co', '--exclude-standard', '-z'], root).split('\0').filter(Boolean);
  for (const file of files) if (existsSync(join(root, file))) cpSync(join(root, file), join(copy, file), { recursive: true });
  const folders = ['packages', 'examples'].flatMap((parent) =>
    readdirSync(join(root, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, parent, d.name, 'package.json')))
      .map((d) => `${parent}/${d.name}`),
  );
  for (const folder of folders) {
    if (existsSync(join(root, folder, 'dist'))) cpSync(join(root, folder, 'dist'), join(copy, folder, 'dist'), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  run('git', ['init', '-q'], copy);

  const before = new Map(folders.map((f) => [f, JSON.parse(readFileSync(join(copy, f, 'package.json'), 'utf8'))]));
  console.log(run('npx', ['changeset', 'status'], root).trim());
  run('npx', ['changeset', 'version'], copy);

  const rows = [];
  for (const folder of folders) {
    const manifest = JSON.parse(readFileSync(join(copy, folder, 'package.json'), 'utf8'));
    if (manifest.private) continue;
    const [packed] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--loglevel=error'], join(copy, folder)));
    const previous = before.get(folder).version;
    const changelogPath = join(copy, folder, 'CHANGELOG.md');
    const changelog = existsSync(changelogPath) ? readFileSync(changelogPath, 'utf8') : '';
    const entry = changelog.split(/\n## /)[1]?.split('\n').slice(1).join('\n').trim() ?? '';
    rows.push({ name: manifest.name, previous, next: manifest.version, files: packed.entryCount, size: packed.unpackedSize, entry });
  }
  console.log('\nwould publish:');
  console.log('| package | version | files | unpacked |\n|---|---|---|---|');
  for (const r of rows) {
    const version = r.previous === r.next ? `${r.next} (unchanged, already published?)` : `${r.previous} → ${r.next}`;
    console.log(`| ${r.name} | ${version} | ${r.files} | ${(r.size / 1024).toFixed(0)} kB |`);
  }
  for (const r of rows.filter((row) => row.entry)) console.log(`\n${r.name}@${r.next}\n${r.entry}`);
} finally {
  rmSync(copy, { recursive: true, force: true });
}
