import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * The file operations an atomic write uses. Injectable, so that a test can make a write fail half-way (a simulated
 * crash or a full disk) and check what is left, or record the calls and check that every file and directory was
 * flushed before its rename. {@link nodeFileSystem} is the real one.
 */
export interface FileSystem {
  /** Writes `data` to a new file at `file` and flushes it to the disk (fsync) before resolving. */
  writeFileSynced(file: string, data: Uint8Array | string): Promise<void>;
  /** Renames `from` to `to` (a file or a directory), atomically on one file system. */
  rename(from: string, to: string): Promise<void>;
  /** Flushes a directory's entries to the disk; a no-op where the platform cannot (Windows). */
  syncDirectory(directory: string): Promise<void>;
  /** Creates a directory and its parents. */
  makeDirectory(directory: string): Promise<void>;
  /** Removes a file or a directory tree; no error when absent. */
  remove(target: string): Promise<void>;
  /** Reads a whole file. */
  readFile(file: string): Promise<Uint8Array>;
  /** Names in a directory. */
  list(directory: string): Promise<string[]>;
  /** Whether a path exists. */
  exists(target: string): Promise<boolean>;
}

/** The Node file system: fsync on every file written and on every directory renamed into. */
export const nodeFileSystem: FileSystem = {
  async writeFileSynced(file, data) {
    const handle = await fs.open(file, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => fs.rename(from, to),
  async syncDirectory(directory) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(directory, 'r');
      await handle.sync();
    } catch {
      // Some platforms (Windows) cannot fsync a directory; the rename is still atomic there.
    } finally {
      await handle?.close();
    }
  },
  makeDirectory: async (directory) => {
    await fs.mkdir(directory, { recursive: true });
  },
  remove: (target) => fs.rm(target, { recursive: true, force: true }),
  readFile: async (file) => new Uint8Array(await fs.readFile(file)),
  list: (directory) => fs.readdir(directory),
  exists: async (target) =>
    fs.access(target).then(
      () => true,
      () => false,
    ),
};

/** The prefix of every temporary name {@link temporaryPath} makes. */
const TEMPORARY_PREFIX = '.tmp-';

/** A fresh name for a temporary file or directory beside `target`, in the same directory (so a rename is atomic). */
export function temporaryPath(target: string): string {
  return path.join(path.dirname(target), `${TEMPORARY_PREFIX}${path.basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Whether a directory entry's name is a temporary left by an interrupted atomic write (see {@link temporaryPath}). */
export function isTemporaryName(name: string): boolean {
  return name.startsWith(TEMPORARY_PREFIX);
}

/** Options of {@link writeFileAtomic} and {@link writeDirectoryAtomic}. */
export interface AtomicWriteOptions {
  /** The file system to write through. Defaults to {@link nodeFileSystem}. */
  fileSystem?: FileSystem;
}

function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new Error(`${name} must be a non-empty path string (received ${JSON.stringify(value)})`);
  }
  return value;
}

/**
 * Writes `data` to `file` so that a crash, a kill -9 or a power loss at any point leaves either the old file or the
 * complete new one, never a torn one: parent folders are created, the bytes go to a temporary file in the same folder,
 * which is fsynced and renamed over `file`, then the folder is fsynced. On failure the temporary file is removed and
 * the error is rethrown; the old `file` is untouched.
 *
 * @example
 * ```ts
 * await writeFileAtomic('runs/metrics.json', JSON.stringify({ accuracy: 0.91 }));
 * ```
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  checkPath('file', file);
  const fileSystem = options.fileSystem ?? nodeFileSystem;
  const folder = path.dirname(file);
  await fileSystem.makeDirectory(folder);
  const temporary = temporaryPath(file);
  try {
    await fileSystem.writeFileSynced(temporary, data);
    await fileSystem.rename(temporary, file);
  } catch (error) {
    await fileSystem.remove(temporary).catch(() => undefined);
    throw error;
  }
  await fileSystem.syncDirectory(folder);
}

/**
 * Writes a directory of files at once: every file into a temporary directory beside `directory` (each fsynced), the
 * temporary directory fsynced, then one rename and an fsync of the parent. A reader never sees a half-written
 * directory. Refuses to replace an existing `directory` (a saved checkpoint is never overwritten); on failure the
 * temporary directory is removed and the error rethrown. `files` maps names (no path separators) to contents.
 *
 * @example
 * ```ts
 * await writeDirectoryAtomic('checkpoints/step-100', { 'manifest.json': '{}', 'weights.bin': bytes });
 * ```
 */
export async function writeDirectoryAtomic(
  directory: string,
  files: Readonly<Record<string, Uint8Array | string>>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  checkPath('directory', directory);
  const fileSystem = options.fileSystem ?? nodeFileSystem;
  for (const name of Object.keys(files)) {
    if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
      throw new Error(`files must map plain file names to contents (received the name ${JSON.stringify(name)})`);
    }
  }
  if (await fileSystem.exists(directory)) {
    throw new Error(`directory must not exist yet: an atomic directory write never replaces one (received ${directory})`);
  }
  const parent = path.dirname(directory);
  await fileSystem.makeDirectory(parent);
  const temporary = temporaryPath(directory);
  try {
    await fileSystem.makeDirectory(temporary);
    for (const [name, data] of Object.entries(files)) {
      await fileSystem.writeFileSynced(path.join(temporary, name), data);
    }
    await fileSystem.syncDirectory(temporary);
    await fileSystem.rename(temporary, directory);
  } catch (error) {
    await fileSystem.remove(temporary).catch(() => undefined);
    throw error;
  }
  await fileSystem.syncDirectory(parent);
}
