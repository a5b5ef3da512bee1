import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInThisContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { droppedGlueProcessHandlers, withoutGlueProcessHandlers } from './process-handlers.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const viteNode = join(packageDir, '..', '..', 'node_modules', '.bin', 'vite-node');

interface Ended {
  code: number | null;
  stderr: string;
  report: { before: number[]; after: number[]; dropped: Record<string, number> };
}

/** Runs test/process-handlers-fixture.ts in a fresh process and says how it ended. */
function runFixture(...args: string[]): Promise<Ended> {
  return new Promise((resolve) => {
    execFile(viteNode, [join('test', 'process-handlers-fixture.ts'), ...args], { cwd: packageDir, encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stderr, report: JSON.parse(stdout.trim().split('\n').pop() as string) as Ended['report'] });
    });
  });
}

/** Code that calls process.on as if it were tfjs-backend-wasm's Emscripten glue (the file name is what counts). */
function glueAddsListeners(): void {
  const glue = `process.on('uncaughtException', (ex) => { throw ex; }); process.on('unhandledRejection', (reason) => { throw reason; });`;
  runInThisContext(glue, { filename: join(packageDir, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tf-backend-wasm.node.js') });
}

describe('withoutGlueProcessHandlers', () => {
  it('keeps the glue listeners off process, passes every other listener through, and puts process.on back', async () => {
    const before = [process.listeners('uncaughtException'), process.listeners('unhandledRejection')];
    const hostListener = (): void => {};
    const droppedBefore = droppedGlueProcessHandlers();
    await withoutGlueProcessHandlers(async () => {
      glueAddsListeners();
      process.on('unhandledRejection', hostListener);
    });
    expect(process.listeners('uncaughtException')).toEqual(before[0]);
    expect(process.listeners('unhandledRejection')).toEqual([...(before[1] as unknown[]), hostListener]);
    process.removeListener('unhandledRejection', hostListener);
    expect(Object.prototype.hasOwnProperty.call(process, 'on')).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(process, 'addListener')).toBe(false);
    const dropped = droppedGlueProcessHandlers();
    expect((dropped['uncaughtException'] ?? 0) - (droppedBefore['uncaughtException'] ?? 0)).toBe(1);
    expect((dropped['unhandledRejection'] ?? 0) - (droppedBefore['unhandledRejection'] ?? 0)).toBe(1);
  });

  it('ends the interception when the initialisation fails, and passes its error on', async () => {
    await expect(withoutGlueProcessHandlers(() => Promise.reject(new Error('init failed')))).rejects.toThrow('init failed');
    expect(Object.prototype.hasOwnProperty.call(process, 'on')).toBe(false);
  });
});

describe('initBackend leaves the process handlers as it found them', () => {
  it.each([
    ['an unhandled rejection', 'rejection', '1'],
    ['a throw in a timer, threaded wasm', 'throw', '2'],
  ])('%s after initBackend ends the process as in plain Node', async (_label, failure, threads) => {
    const [plain, convkit] = await Promise.all([runFixture('plain', failure, threads), runFixture('convkit', failure, threads)]);
    // The glue was reached (its two listeners were kept off) and the listener counts did not change.
    expect(convkit.report.dropped).toEqual({ uncaughtException: 1, unhandledRejection: 1 });
    expect(convkit.report.after).toEqual(convkit.report.before);
    expect(convkit.report.before).toEqual(plain.report.before);
    // Plain Node prints the error and exits 1; the glue's re-throwing handlers made it exit 7 from inside tfjs.
    expect(plain.code).toBe(1);
    expect(convkit.code).toBe(plain.code);
    const message = failure === 'rejection' ? 'unhandled in the fixture' : 'thrown in a timer of the fixture';
    expect(plain.stderr).toContain(message);
    expect(convkit.stderr).toContain(message);
    expect(convkit.stderr).not.toContain('tf-backend-wasm');
  }, 150_000);
});
