import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * The file operations a checkpoint uses, injectable so that tests can make a write fail half-way (a simulated
 * crash) and check that the previous checkpoint still loads. {@link nodeFileSystem} is the real one.
 */
export interface CheckpointFileSystem {
  /** Writes `data` to a new file at `file` and flushes it to the disk (fsync) before resolving. */
  writeFileSynced(file: string, data: Uint8Array | string): Promise<void>;
  /** Renames `from` to `to` (a file or a directory), atomically on one file system. */
  rename(from: string, to: string): Promise<void>;
  /** Flushes a directory's entries (after a rename into it) to the disk; a no-op where not supported. */
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

/** The Node file system, with fsync on every checkpoint file and on the directories renamed into. */
export const nodeFileSystem: CheckpointFileSystem = {
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
      () => false
    ),
};

/** A name for a temporary file or directory beside `target`, in the same directory (so a rename is atomic). */
export function temporaryPath(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${randomBytes(4).toString('hex')}`);
}

/** Whether a directory entry is a temporary left by an interrupted save. */
export function isTemporary(name: string): boolean {
  return name.startsWith('.tmp-');
}

/**
 * Writes a file atomically: to a temporary file in the same directory, fsync, rename over `file`, fsync the
 * directory. A crash at any point leaves either the old file or the new one, never a torn one.
 */
export async function writeFileAtomic(
  fileSystem: CheckpointFileSystem,
  file: string,
  data: Uint8Array | string
): Promise<void> {
  const temporary = temporaryPath(file);
  try {
    await fileSystem.writeFileSynced(temporary, data);
    await fileSystem.rename(temporary, file);
  } catch (error) {
    await fileSystem.remove(temporary).catch(() => undefined);
    throw error;
  }
  await fileSystem.syncDirectory(path.dirname(file));
}

/**
 * Writes a directory of files atomically: every file into a temporary directory beside `directory` (each
 * fsynced), then one rename. Refuses to replace an existing `directory`.
 */
export async function writeDirectoryAtomic(
  fileSystem: CheckpointFileSystem,
  directory: string,
  files: Record<string, Uint8Array | string>
): Promise<void> {
  if (await fileSystem.exists(directory)) {
    throw new Error(`path must not exist yet: a checkpoint is never overwritten (received ${directory})`);
  }
  await fileSystem.makeDirectory(path.dirname(directory));
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
  await fileSystem.syncDirectory(path.dirname(directory));
}

/** Reads and parses a JSON file, with an error naming the file when it is missing or not JSON. */
export async function readJson(fileSystem: CheckpointFileSystem, file: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await fileSystem.readFile(file);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
