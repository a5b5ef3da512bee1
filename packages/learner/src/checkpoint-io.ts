import type { FileSystem } from '@convkit/io';

export { isTemporaryName, nodeFileSystem, temporaryPath, writeDirectoryAtomic, writeFileAtomic } from '@convkit/io';

/**
 * The file operations a checkpoint uses: `@convkit/io`'s `FileSystem`, under the name this package has always
 * exported. Injectable, so that tests can make a write fail half-way (a simulated crash) or record the calls and
 * check that every file and directory is fsynced before its rename.
 */
export type CheckpointFileSystem = FileSystem;

/** Reads and parses a JSON file, with an error naming the file when it is missing or not JSON. */
export async function readJson(fileSystem: FileSystem, file: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await fileSystem.readFile(file);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (truncated or edited?): ${(error as Error).message}`, { cause: error });
  }
}
