import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

/** The typed arrays an IDX file can hold, one per IDX type byte. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/**
 * An n-dimensional array read from (or to be written to) the IDX format of MNIST.
 *
 * `data` is row-major: the last dimension varies fastest, so `data.length` is the product
 * of `dims`.
 */
export interface IdxArray {
  /** The size of each dimension, outermost first, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /** The values, row-major. Its type follows the IDX type byte. */
  data: IdxData;
}

interface IdxType {
  code: number;
  name: string;
  bytes: number;
  create(length: number): IdxData;
  read(view: DataView, offset: number): number;
  write(view: DataView, offset: number, value: number): void;
}

const IDX_TYPES: readonly IdxType[] = [
  {
    code: 0x08, name: 'unsigned byte', bytes: 1, create: (n) => new Uint8Array(n),
    read: (v, o) => v.getUint8(o), write: (v, o, x) => v.setUint8(o, x),
  },
  {
    code: 0x09, name: 'signed byte', bytes: 1, create: (n) => new Int8Array(n),
    read: (v, o) => v.getInt8(o), write: (v, o, x) => v.setInt8(o, x),
  },
  {
    code: 0x0b, name: 'short', bytes: 2, create: (n) => new Int16Array(n),
    read: (v, o) => v.getInt16(o, false), write: (v, o, x) => v.setInt16(o, x, false),
  },
  {
    code: 0x0c, name: 'int', bytes: 4, create: (n) => new Int32Array(n),
    read: (v, o) => v.getInt32(o, false), write: (v, o, x) => v.setInt32(o, x, false),
  },
  {
    code: 0x0d, name: 'float', bytes: 4, create: (n) => new Float32Array(n),
    read: (v, o) => v.getFloat32(o, false), write: (v, o, x) => v.setFloat32(o, x, false),
  },
  {
    code: 0x0e, name: 'double', bytes: 8, create: (n) => new Float64Array(n),
    read: (v, o) => v.getFloat64(o, false), write: (v, o, x) => v.setFloat64(o, x, false),
  },
];

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

function typeOfData(data: IdxData): IdxType {
  const code =
    data instanceof Uint8Array ? 0x08
    : data instanceof Int8Array ? 0x09
    : data instanceof Int16Array ? 0x0b
    : data instanceof Int32Array ? 0x0c
    : data instanceof Float32Array ? 0x0d
    : data instanceof Float64Array ? 0x0e
    : -1;
  const type = IDX_TYPES.find((t) => t.code === code);
  if (type === undefined) {
    const received = (data as object | null)?.constructor?.name ?? String(data);
    throw new Error(
      `array.data must be a Uint8Array, Int8Array, Int16Array, Int32Array, Float32Array or Float64Array (received ${received})`,
    );
  }
  return type;
}

/**
 * Parses the bytes of an (uncompressed) IDX file, the format MNIST and Fashion-MNIST ship in.
 *
 * The format is: two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B
 * short, 0x0C int, 0x0D float, 0x0E double), a byte giving the number of dimensions, one
 * big-endian int32 per dimension, then the values, big-endian and row-major. The bytes must
 * hold exactly the values the dimensions call for: a short file and trailing bytes are both
 * errors, so a damaged download is never mistaken for a dataset.
 *
 * Use {@link readIdxFile} to read a file from disk, gzipped or not.
 *
 * @param bytes - the whole file, uncompressed.
 * @returns a fresh array (it does not share memory with `bytes`).
 * @throws if the magic bytes are wrong, the type byte is unknown, or the data is truncated
 *   or followed by trailing bytes.
 * @example
 * ```ts
 * const bytes = encodeIdx({ dims: [2, 2], data: new Uint8Array([1, 2, 3, 4]) });
 * const array = parseIdx(bytes); // { dims: [2, 2], data: Uint8Array [1, 2, 3, 4] }
 * ```
 */
export function parseIdx(bytes: Uint8Array): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const found = Array.from(bytes.subarray(0, 4), hex).join(' ') || 'no bytes';
    throw new Error(`not an IDX file: expected magic bytes 0x00 0x00 <type> <dims>, found ${found}`);
  }
  const typeByte = bytes[2] as number;
  const type = IDX_TYPES.find((t) => t.code === typeByte);
  if (type === undefined) {
    throw new Error(
      `not a supported IDX file: unknown type byte ${hex(typeByte)} ` +
        '(expected 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float or 0x0e double)',
    );
  }
  const rank = bytes[3] as number;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new Error(
      `truncated IDX file: the header declares ${rank} dimensions (${headerBytes} header bytes) but the file has ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) {
    const size = view.getInt32(4 + 4 * i, false);
    if (size < 0) throw new Error(`not a valid IDX file: dimension ${i} is negative (${size})`);
    dims.push(size);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * type.bytes;
  const found = bytes.length - headerBytes;
  if (found < expected) {
    throw new Error(
      `truncated IDX file: expected ${expected} bytes of data for dims [${dims.join(', ')}] (${type.name}), found ${found}`,
    );
  }
  if (found > expected) {
    throw new Error(
      `IDX file has trailing garbage: expected ${expected} bytes of data for dims [${dims.join(', ')}] (${type.name}), ` +
        `found ${found} (${found - expected} extra bytes)`,
    );
  }
  if (type.bytes === 1 && type.code === 0x08) {
    return { dims, data: new Uint8Array(bytes.subarray(headerBytes)) };
  }
  const data = type.create(count);
  for (let i = 0, offset = headerBytes; i < count; i++, offset += type.bytes) {
    data[i] = type.read(view, offset);
  }
  return { dims, data };
}

/**
 * Encodes an array in the IDX format (uncompressed); the inverse of {@link parseIdx}.
 *
 * The type byte follows the typed array of `data`. Useful to write small fixtures and to
 * save derived datasets in the format the loaders read; gzip the result with `node:zlib`
 * for a `.gz` file.
 *
 * @param array - `dims` (at most 255 of them, each a non-negative integer) and `data`
 *   with exactly the product of `dims` values.
 * @returns the file's bytes.
 * @example
 * ```ts
 * import { gzipSync } from 'node:zlib';
 * const labels = encodeIdx({ dims: [3], data: new Uint8Array([0, 1, 2]) });
 * await writeFile('labels-idx1-ubyte.gz', gzipSync(labels));
 * ```
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { dims, data } = array;
  const type = typeOfData(data);
  if (!Array.isArray(dims) || dims.length > 255 || !dims.every((d) => Number.isInteger(d) && d >= 0 && d <= 0x7fffffff)) {
    throw new Error(
      `array.dims must be at most 255 non-negative integers (received ${JSON.stringify(dims)})`,
    );
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(
      `array.data must hold the product of dims [${dims.join(', ')}] = ${count} values (received ${data.length})`,
    );
  }
  const headerBytes = 4 + 4 * dims.length;
  const bytes = new Uint8Array(headerBytes + count * type.bytes);
  const view = new DataView(bytes.buffer);
  bytes[2] = type.code;
  bytes[3] = dims.length;
  dims.forEach((d, i) => view.setInt32(4 + 4 * i, d, false));
  if (type.code === 0x08) {
    bytes.set(data as Uint8Array, headerBytes);
  } else {
    for (let i = 0, offset = headerBytes; i < count; i++, offset += type.bytes) {
      type.write(view, offset, data[i] as number);
    }
  }
  return bytes;
}

/**
 * Tells whether `bytes` are gzip-compressed, from the gzip magic number 0x1f 0x8b.
 *
 * Used instead of the file name, which often lies (`.gz` files already unpacked by a browser).
 *
 * @example
 * ```ts
 * isGzip(gzipSync(encodeIdx({ dims: [1], data: new Uint8Array([7]) }))); // true
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads an IDX file from disk, gzipped or not.
 *
 * Compression is detected from the gzip magic bytes (0x1f 0x8b), not from the file name,
 * so `train-images-idx3-ubyte` and `train-images-idx3-ubyte.gz` both work whatever they
 * hold. Every error names the file.
 *
 * @param path - the file to read.
 * @returns the parsed array (see {@link parseIdx}).
 * @throws if the file cannot be read, does not decompress, or is not a valid IDX file.
 * @example
 * ```ts
 * const labels = await readIdxFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 * console.log(labels.dims); // [10000]
 * ```
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array = await readFile(path);
  if (isGzip(bytes)) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      throw new Error(`${path}: gzip data could not be decompressed (${(error as Error).message})`, { cause: error });
    }
  }
  try {
    return parseIdx(bytes);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
}
