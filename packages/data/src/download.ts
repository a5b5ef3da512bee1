import { createHash } from 'node:crypto';
import { writeFileAtomic } from '@convkit/io';

/** Options of {@link downloadFile}. */
export interface DownloadFileOptions {
  /** The address to fetch. */
  url: string;
  /** The file to create. Its directory is created if needed. */
  destination: string;
  /** The expected MD5 of the bytes, lowercase hex. Defaults to no check. */
  md5?: string;
  /** The fetch function to use (inject one in tests). Defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * The MD5 digest of `bytes` as lowercase hex, the form dataset checksums are published in.
 *
 * @example
 * ```ts
 * md5Hex(await readFile('train-labels-idx1-ubyte.gz')); // '25c81989df183df01b3e8a0aad5dffbe' for the official file
 * ```
 */
export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/**
 * Downloads `url` to `destination`, verifying its MD5, without ever leaving a partial file.
 *
 * The bytes are checked in memory, then written with `@convkit/io`'s `writeFileAtomic` (a
 * temporary file beside `destination`, fsynced, renamed into place, the folder fsynced), so an
 * interrupted or corrupt download, a crash or a power loss leaves nothing that a later run could
 * mistake for the real file.
 *
 * @returns the number of bytes written.
 * @throws on a network error, an HTTP status other than 2xx, or a checksum mismatch (with
 *   the expected and received MD5).
 * @example
 * ```ts
 * await downloadFile({ url: 'https://example.org/data.gz', destination: '/tmp/data.gz', md5: '…' });
 * ```
 */
export async function downloadFile(options: DownloadFileOptions): Promise<number> {
  const { url, destination, md5 } = options;
  const bytes = await fetchVerified(url, md5, options.fetch ?? globalThis.fetch);
  await writeFileAtomic(destination, bytes);
  return bytes.length;
}

/**
 * Fetches `url` into memory and checks its MD5 (when given) before anything is written: a network error, a non-2xx
 * status or a checksum mismatch throws, naming the URL (and both checksums).
 */
export async function fetchVerified(url: string, md5: string | undefined, fetchImpl: typeof globalThis.fetch): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const response = await fetchImpl(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trimEnd());
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new Error(`download of ${url} failed: ${(error as Error).message}`, { cause: error });
  }
  if (md5 !== undefined) {
    const actual = md5Hex(bytes);
    if (actual !== md5.toLowerCase()) {
      throw new Error(
        `checksum mismatch for ${url}: expected MD5 ${md5.toLowerCase()}, received ${actual} (${bytes.length} bytes); ` +
          'the file was not saved',
      );
    }
  }
  return bytes;
}
