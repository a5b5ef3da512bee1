import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const viteNode = join(packageDir, '..', '..', 'node_modules', '.bin', 'vite-node');

describe('convkit command', () => {
  it('prints the package version for --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const { stdout } = await promisify(execFile)(viteNode, [join('src', 'cli.ts'), flag], { cwd: packageDir, encoding: 'utf8' });
      expect(stdout.trim()).toBe(version);
    }
  });
});
