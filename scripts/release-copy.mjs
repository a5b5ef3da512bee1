// The release the pending changesets make, applied to a throwaway copy of the working tree (the repository itself
// does not change): used by release-dry.mjs (what would be published) and pack-check.mjs --release (the tarballs at
// their release versions install and work alone).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..');

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The workspace folders that hold a package.json (`packages/core`, `examples/plugin-swa`, …). */
export function workspaceFolders(base = root) {
  return ['packages', 'examples'].flatMap((parent) =>
    readdirSync(join(base, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(base, parent, d.name, 'package.json')))
      .map((d) => `${parent}/${d.name}`),
  );
}

/**
 * Copies the working tree as git sees it (tracked and new files, not ignored ones) plus the built dist/ folders to a
 * temporary folder, runs `changeset version` there, and returns the folder with the versions before and after.
 * Call `dispose()` when done.
 */
export function releaseCopy() {
  const copy = mkdtempSync(join(tmpdir(), 'convkit-release-'));
  const files = run('git', ['ls-files', '-co', '--exclude-standard', '-z'], root).split('\0').filter(Boolean);
  for (const file of files) if (existsSync(join(root, file))) cpSync(join(root, file), join(copy, file), { recursive: true });
  const folders = workspaceFolders();
  for (const folder of folders) {
    if (existsSync(join(root, folder, 'dist'))) cpSync(join(root, folder, 'dist'), join(copy, folder, 'dist'), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  run('git', ['init', '-q'], copy);
  const manifest = (base, folder) => JSON.parse(readFileSync(join(base, folder, 'package.json'), 'utf8'));
  const before = new Map(folders.map((folder) => [folder, manifest(copy, folder).version]));
  run('npx', ['changeset', 'version'], copy);
  const packages = folders.map((folder) => {
    const after = manifest(copy, folder);
    return { folder, name: after.name, private: after.private === true, previous: before.get(folder), next: after.version, manifest: after };
  });
  return { dir: copy, packages, dispose: () => rmSync(copy, { recursive: true, force: true }) };
}
