#!/usr/bin/env node
// What `changeset version` + `npm publish` would do, without doing it: applies the pending changesets to a
// throwaway copy of the working tree (release-copy.mjs), then packs every public package there (`npm pack --dry-run`)
// and prints, per package, the version change, the tarball's file count and size, and the new changelog entry.
// Nothing in the repository changes. Run after `npm run build` (the root script `release:dry` does both).
//
//   node scripts/release-dry.mjs [--expect 0.1.0]
// --expect fails (exit 1) unless every public package is released at that version, and every tarball holds its
// README.md, LICENSE and CHANGELOG.md but no build info.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { releaseCopy, root } from './release-copy.mjs';

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const expectAt = process.argv.indexOf('--expect');
const expected = expectAt === -1 ? undefined : process.argv[expectAt + 1];

console.log(run('npx', ['changeset', 'status'], root).trim());
const release = releaseCopy();
const problems = [];
try {
  const rows = [];
  for (const pkg of release.packages) {
    if (pkg.private) continue;
    const dir = join(release.dir, pkg.folder);
    const [packed] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--loglevel=error'], dir));
    const changelogPath = join(dir, 'CHANGELOG.md');
    const changelog = existsSync(changelogPath) ? readFileSync(changelogPath, 'utf8') : '';
    const entry = changelog.split(/\n## /)[1]?.split('\n').slice(1).join('\n').trim() ?? '';
    rows.push({ ...pkg, files: packed.entryCount, size: packed.unpackedSize, entry });
    if (expected !== undefined) {
      if (pkg.next !== expected) problems.push(`${pkg.name} would be ${pkg.next}, not ${expected}: add a "${pkg.name}": minor changeset`);
      const paths = new Set(packed.files.map((file) => file.path));
      for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md']) {
        if (!paths.has(file)) problems.push(`${pkg.name}@${pkg.next}'s tarball has no ${file}`);
      }
      const buildInfo = [...paths].filter((path) => path.endsWith('.tsbuildinfo'));
      if (buildInfo.length > 0) problems.push(`${pkg.name}@${pkg.next}'s tarball ships ${buildInfo.join(', ')}`);
    }
  }
  console.log('\nwould publish:');
  console.log('| package | version | files | unpacked |\n|---|---|---|---|');
  for (const r of rows) {
    const version = r.previous === r.next ? `${r.next} (unchanged, already published?)` : `${r.previous} → ${r.next}`;
    console.log(`| ${r.name} | ${version} | ${r.files} | ${(r.size / 1024).toFixed(0)} kB |`);
  }
  for (const r of rows.filter((row) => row.entry)) console.log(`\n${r.name}@${r.next}\n${r.entry}`);
} finally {
  release.dispose();
}
if (problems.length > 0) {
  console.log(`\nrelease-dry: ${problems.length} problem(s)\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exit(1);
}
