/** One regular file of a tar archive. */
export interface TarEntry {
  /** The path inside the archive, e.g. `'cifar-10-batches-bin/data_batch_1.bin'`. */
  name: string;
  /** The file's bytes (a view into the archive). */
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function readString(bytes: Uint8Array, start: number, end: number): string {
  const field = bytes.subarray(start, end);
  const zero = field.indexOf(0);
  return decoder.decode(zero === -1 ? field : field.subarray(0, zero));
}

/**
 * Lists the regular files of an uncompressed tar archive (ustar, as GNU tar writes it).
 *
 * Minimal by design: reads the name (with the ustar prefix), the octal size and the type
 * flag of each 512-byte header, returns regular files and skips directories, links and
 * extended headers; stops at the first all-zero block.
 *
 * @throws on a truncated archive or a size field that is not octal.
 */
export function readTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const name = readString(header, 0, 100);
    const sizeField = readString(header, 124, 136).trim();
    if (!/^[0-7]+$/.test(sizeField)) {
      throw new Error(`tar header at byte ${offset} has a size field that is not octal (received ${JSON.stringify(sizeField)})`);
    }
    const size = Number.parseInt(sizeField, 8);
    const type = String.fromCharCode(header[156] as number);
    const magic = readString(header, 257, 262);
    const prefix = magic === 'ustar' ? readString(header, 345, 500) : '';
    const start = offset + BLOCK;
    if (start + size > archive.length) {
      throw new Error(`tar entry ${JSON.stringify(name)} needs ${size} bytes but the archive ends after ${archive.length - start}`);
    }
    if (type === '0' || type === '\0') {
      entries.push({ name: prefix ? `${prefix}/${name}` : name, data: archive.subarray(start, start + size) });
    }
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}
