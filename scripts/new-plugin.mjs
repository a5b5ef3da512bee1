#!/usr/bin/env node
// Scaffolds a convkit plugin package: packages/<name>/ with package.json, tsconfig, vitest config, a working
// plugin factory with TSDoc, its test (driven through a tiny real fit), a README and a changeset, and adds the
// package to the root tsconfig.json references and typedoc.json.
//
//   npm run new-plugin <name>            e.g. npm run new-plugin loss-logger
//   node scripts/new-plugin.mjs --check  scaffolds a throwaway package, builds and tests it, then removes it
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const name = check ? 'scaffold-check' : args[0];

if (!name || !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
  console.error(`usage: npm run new-plugin <name>, a kebab-case package name (received ${JSON.stringify(name ?? '')})`);
  process.exit(2);
}
const dir = join(root, 'packages', name);
if (existsSync(dir)) {
  console.error(`packages/${name} already exists; choose another name`);
  process.exit(2);
}
const camel = name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const version = JSON.parse(readFileSync(join(root, 'packages/learner/package.json'), 'utf8')).version;
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;

const files = {
  'package.json': json({
    name: `@convkit/${name}`,
    version: '0.0.0',
    description: `A convkit plugin: ${name}.`,
    license: 'MIT',
    type: 'module',
    sideEffects: false,
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' },
    files: ['dist', 'README.md', 'CHANGELOG.md'],
    engines: { node: '>=20.19' },
    scripts: { build: 'tsc -b', test: 'vitest run', lint: 'tsc -p tsconfig.lint.json' },
    dependencies: { '@convkit/learner': `^${version}` },
    devDependencies: { '@convkit/core': `^${version}` },
    peerDependencies: { '@tensorflow/tfjs': '^4.22.0' },
  }),
  'tsconfig.json': json({
    extends: '../../tsconfig.base.json',
    compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' },
    include: ['src'],
    exclude: ['src/**/*.test.ts'],
    references: [{ path: '../learner' }],
  }),
  'tsconfig.lint.json': readFileSync(join(root, 'packages/learner/tsconfig.lint.json'), 'utf8'),
  'vitest.config.ts': readFileSync(join(root, 'packages/learner/vitest.config.ts'), 'utf8'),
  'src/index.ts': `export { ${camel} } from './${name}.js';\nexport type { ${capital(camel)}Options } from './${name}.js';\n`,
  [`src/${name}.ts`]: `import type { LoopContext, Plugin } from '@convkit/learner';

/** Options of {@link ${camel}}. */
export interface ${capital(camel)}Options {
  /** Called at the end of every epoch with the epoch (from 0) and its training loss. Defaults to \`console.log\`. */
  log?: (epoch: number, trainLoss: number) => void;
}

/**
 * ${capital(camel)}: a convkit plugin. Replace this summary with what it does and why.
 *
 * As generated, it reports each epoch's training loss. A plugin is a plain object of hooks (see
 * \`@convkit/learner\`'s README for the events, what each may change, and the stop signals); declare in \`writes\`
 * whatever loop state it changes, and reset its own state in \`beforeFit\`.
 *
 * @example
 * \`\`\`ts
 * import { ${camel} } from '@convkit/${name}';
 * // new Learner({ ..., plugins: [${camel}({ log: (epoch, loss) => console.log(epoch, loss) })] })
 * \`\`\`
 */
export function ${camel}(options: ${capital(camel)}Options = {}): Plugin {
  const log = options.log ?? ((epoch: number, loss: number) => console.log(\`epoch \${epoch + 1}: train loss \${loss}\`));
  if (typeof log !== 'function') throw new Error(\`log must be a function (received \${typeof log})\`);
  return {
    name: '${camel}',
    order: 90,
    afterEpoch(ctx: LoopContext) {
      const loss = ctx.lastMetrics.train['loss'];
      if (loss !== undefined) log(ctx.epoch, loss);
    },
  };
}
`,
  [`src/${name}.test.ts`]: `import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { tinyLearner, traceFit } from '@convkit/learner/testing';
import { ${camel} } from './${name}.js';

describe('${camel}', () => {
  it('reports every epoch of a real fit with the loss the history records', async () => {
    await expectNoLeak(async () => {
      const calls: [number, number][] = [];
      const { learner, dispose } = tinyLearner();
      const trace = await traceFit(learner, 3, { plugins: [${camel}({ log: (epoch, loss) => calls.push([epoch, loss]) })] });
      learner.optimizer.dispose();
      dispose();
      expect(trace.error).toBeUndefined();
      expect(calls).toEqual(trace.history.epochs.map((e) => [e.epoch, e.train['loss']]));
      expect(calls.map(([epoch]) => epoch)).toEqual([0, 1, 2]);
    });
  });

  it('rejects a log that is not a function', () => {
    expect(() => ${camel}({ log: 3 as unknown as () => void })).toThrow('log must be a function (received number)');
  });
});
`,
  'README.md': `# @convkit/${name}

A convkit plugin. Describe what it does, why, and when to use it.

\`\`\`ts
import { Learner } from '@convkit/learner';
import { ${camel} } from '@convkit/${name}';

const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, plugins: [${camel}()] });
await learner.fit(3);
\`\`\`

## Options

| option | meaning | default |
| --- | --- | --- |
| \`log\` | called at the end of every epoch with the epoch (from 0) and its training loss | \`console.log\` |
`,
};

mkdirSync(join(dir, 'src'), { recursive: true });
for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
const changeset = join(root, '.changeset', `${name}-first-release.md`);
if (!check) writeFileSync(changeset, `---\n"@convkit/${name}": minor\n---\n\nFirst release of \`@convkit/${name}\`: \`${camel}()\`, a plugin that …\n`);

const rootFiles = { tsconfig: join(root, 'tsconfig.json'), typedoc: join(root, 'typedoc.json') };
const saved = Object.fromEntries(Object.entries(rootFiles).map(([k, f]) => [k, readFileSync(f, 'utf8')]));
const tsconfig = JSON.parse(saved.tsconfig);
tsconfig.references.push({ path: `packages/${name}` });
writeFileSync(rootFiles.tsconfig, json(tsconfig));
const typedoc = JSON.parse(saved.typedoc);
typedoc.entryPoints.push(`packages/${name}`);
writeFileSync(rootFiles.typedoc, json(typedoc));

if (check) {
  try {
    execFileSync('npx', ['tsc', '-b', `packages/${name}`], { cwd: root, stdio: 'inherit' });
    execFileSync('npx', ['tsc', '-p', `packages/${name}/tsconfig.lint.json`], { cwd: root, stdio: 'inherit' });
    execFileSync('npx', ['vitest', 'run'], { cwd: dir, stdio: 'inherit' });
    console.log('new-plugin --check: the scaffolded package builds, type-checks and passes its tests');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const [k, f] of Object.entries(rootFiles)) writeFileSync(f, saved[k]);
  }
} else {
  console.log(`created packages/${name} and .changeset/${name}-first-release.md; next:
  npm install                 # links @convkit/${name} into the workspace
  npx vitest run --root packages/${name}
  npm run build`);
}

function capital(text) {
  return text[0].toUpperCase() + text.slice(1);
}
