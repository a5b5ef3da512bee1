// TFRecord framing, the container of TensorBoard event files: every record is
//   uint64 length (little-endian) | uint32 masked CRC32C of the 8 length bytes | data | uint32 masked CRC32C of data
// CRC32C (Castagnoli) comes from @aws-crypto/crc32c; only the masking is TFRecord's own.
import { crc32c } from '@aws-crypto/crc32c';

/** TFRecord's CRC mask: rotate right by 15 bits, add 0xa282ead8 (mod 2³²). */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** The masked CRC32C of `bytes`, as TFRecord stores it. */
export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc(crc32c(bytes));
}

/** Frames `data` as one TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}
