// Shared vitest settings: every @convkit/* import resolves to the package's TypeScript source,
// so tests run without a build and a change in one package is seen at once by the packages above it.
import { readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));
const packagesDir = join(root, 'packages');

function sourceAliases(): { find: RegExp; replacement: string }[] {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const name of readdirSync(packagesDir)) {
    const dir = join(packagesDir, name, 'src');
    if (!existsSync(join(dir, 'index.ts'))) continue;
    if (existsSync(join(dir, 'testing.ts'))) {
      aliases.push({ find: new RegExp(`^@convkit/${name}/testing$`), replacement: join(dir, 'testing.ts') });
    }
    aliases.push({ find: new RegExp(`^@convkit/${name}$`), replacement: join(dir, 'index.ts') });
  }
  return aliases;
}

export const sharedConfig: ReturnType<typeof defineConfig> = defineConfig({
  resolve: { alias: sourceAliases() },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
  },
});
