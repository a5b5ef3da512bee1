import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';

/** For a test file: returns a maker of fresh temporary directories (named `convkit-<prefix>-…`), all removed after the file's tests. */
export function scratchDirectories(prefix: string): () => string {
  const roots: string[] = [];
  afterAll(() => {
    for (const dir of roots) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(path.join(tmpdir(), `convkit-${prefix}-`));
    roots.push(dir);
    return dir;
  };
}
