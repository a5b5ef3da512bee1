import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTemporaryName, nodeFileSystem, temporaryPath, writeDirectoryAtomic, writeFileAtomic } from './index.js';
import type { FileSystem } from './index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-io-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The node file system with every call recorded, and an optional failure injected into one operation. */
function recording(failOn?: { op: keyof FileSystem; match: (arg: string) => boolean }): { fs: FileSystem; calls: string[] } {
  const calls: string[] = [];
  const wrap =
    <K extends keyof FileSystem>(op: K) =>
    async (...args: Parameters<FileSystem[K]>): Promise<Awaited<ReturnType<FileSystem[K]>>> => {
      const first = String(args[0]);
      calls.push(`${op} ${first.startsWith(root) ? first.slice(root.length) : first}`);
      if (failOn !== undefined && failOn.op === op && failOn.match(first)) throw new Error(`injected ${op} failure`);
      return (nodeFileSystem[op] as (...a: unknown[]) => Promise<Awaited<ReturnType<FileSystem[K]>>>)(...args);
    };
  const fs = Object.fromEntries(Object.keys(nodeFileSystem).map((op) => [op, wrap(op as keyof FileSystem)])) as unknown as FileSystem;
  return { fs, calls };
}

describe('writeFileAtomic', () => {
  it('writes the bytes, creates parent folders and leaves no temporary behind', async () => {
    const file = join(root, 'a', 'b', 'metrics.json');
    await writeFileAtomic(file, '{"x":1}');
    expect(await readFile(file, 'utf8')).toBe('{"x":1}');
    expect(await readdir(join(root, 'a', 'b'))).toEqual(['metrics.json']);
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
  });

  it('fsyncs the temporary file before the rename and the folder after it', async () => {
    const { fs, calls } = recording();
    await writeFileAtomic(join(root, 'f.txt'), 'x', { fileSystem: fs });
    const ops = calls.map((call) => call.split(' ')[0]);
    expect(ops).toEqual(['makeDirectory', 'writeFileSynced', 'rename', 'syncDirectory']);
    expect(calls[1]).toMatch(/^writeFileSynced \/\.tmp-f\.txt-/);
    expect(calls[3]).toBe('syncDirectory ');
  });

  it('keeps the old file and removes the temporary when the rename fails', async () => {
    const file = join(root, 'keep.txt');
    await writeFile(file, 'old');
    const { fs } = recording({ op: 'rename', match: () => true });
    await expect(writeFileAtomic(file, 'new', { fileSystem: fs })).rejects.toThrow('injected rename failure');
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(root)).toEqual(['keep.txt']);
  });

  it('names the argument when the path is not a string', async () => {
    await expect(writeFileAtomic('' as string, 'x')).rejects.toThrow('file must be a non-empty path string (received "")');
    await expect(writeFileAtomic(3 as unknown as string, 'x')).rejects.toThrow('file must be a non-empty path string (received 3)');
  });
});

describe('writeDirectoryAtomic', () => {
  it('writes every file, fsyncs each one and the directory before the rename, then the parent', async () => {
    const { fs, calls } = recording();
    const target = join(root, 'ckpt', 'step-1');
    await writeDirectoryAtomic(target, { 'manifest.json': '{}', 'weights.bin': new Uint8Array([7]) }, { fileSystem: fs });
    expect(await readFile(join(target, 'manifest.json'), 'utf8')).toBe('{}');
    expect([...(await readFile(join(target, 'weights.bin')))]).toEqual([7]);
    const ops = calls.map((call) => call.split(' ')[0]);
    expect(ops).toEqual(['exists', 'makeDirectory', 'makeDirectory', 'writeFileSynced', 'writeFileSynced', 'syncDirectory', 'rename', 'syncDirectory']);
    expect(calls[5]).toMatch(/^syncDirectory \/ckpt\/\.tmp-step-1-/);
    expect(calls[7]).toBe('syncDirectory /ckpt');
  });

  it('leaves nothing when a file write fails half-way, and refuses to replace a directory', async () => {
    const target = join(root, 'step-2');
    const { fs } = recording({ op: 'writeFileSynced', match: (file) => file.endsWith('b.bin') });
    await expect(writeDirectoryAtomic(target, { 'a.bin': 'a', 'b.bin': 'b' }, { fileSystem: fs })).rejects.toThrow('injected');
    expect(await readdir(root)).toEqual([]);
    await writeDirectoryAtomic(target, { 'a.bin': 'a' });
    await expect(writeDirectoryAtomic(target, { 'a.bin': 'changed' })).rejects.toThrow(
      `directory must not exist yet: an atomic directory write never replaces one (received ${target})`,
    );
    expect(await readFile(join(target, 'a.bin'), 'utf8')).toBe('a');
  });

  it('refuses file names with separators', async () => {
    await expect(writeDirectoryAtomic(join(root, 'd'), { '../evil': 'x' })).rejects.toThrow(
      'files must map plain file names to contents (received the name "../evil")',
    );
    expect(await readdir(root)).toEqual([]);
  });
});

describe('temporaryPath', () => {
  it('is beside the target, unique, and recognised by isTemporaryName', () => {
    const a = temporaryPath('/x/y/model.json');
    const b = temporaryPath('/x/y/model.json');
    expect(a).not.toBe(b);
    expect(a.startsWith('/x/y/.tmp-model.json-')).toBe(true);
    expect(isTemporaryName(a.split('/').pop() as string)).toBe(true);
    expect(isTemporaryName('model.json')).toBe(false);
  });
});
