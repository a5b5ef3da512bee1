import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, md5Hex } from './download.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convkit-download-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const serve = (body: Uint8Array) => (async () => new Response(body)) as typeof fetch;

describe('md5Hex', () => {
  it('matches the RFC 1321 test vectors', () => {
    expect(md5Hex(new Uint8Array(0))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex(new TextEncoder().encode('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
  });
});

describe('downloadFile', () => {
  const body = new TextEncoder().encode('abc');

  it('writes the verified bytes, creating folders, with no temporary file left', async () => {
    const destination = join(dir, 'nested', 'file.bin');
    const size = await downloadFile({ url: 'https://x.test/f', destination, md5: '900150983CD24FB0D6963F7D28E17F72', fetch: serve(body) });
    expect(size).toBe(3);
    expect(new TextDecoder().decode(await readFile(destination))).toBe('abc');
    expect(await readdir(join(dir, 'nested'))).toEqual(['file.bin']);
  });

  it('writes nothing on a checksum mismatch', async () => {
    const destination = join(dir, 'bad', 'file.bin');
    await expect(downloadFile({ url: 'https://x.test/f', destination, md5: '0'.repeat(32), fetch: serve(body) })).rejects.toThrow(
      `checksum mismatch for https://x.test/f: expected MD5 ${'0'.repeat(32)}, received 900150983cd24fb0d6963f7d28e17f72 (3 bytes); the file was not saved`,
    );
    await expect(readdir(join(dir, 'bad'))).rejects.toThrow('ENOENT');
  });
});
