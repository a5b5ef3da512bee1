import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { valueStats } from '@convkit/learner';
import { chart } from '@convkit/plot';
import { describe, expect, it } from 'vitest';
import { readEventFiles, temporaryFolder, valuesOf } from '../run.test-helpers.js';
import { histogramFromStats, openEventWriter, pngImage } from './event-writer.js';
import { frameRecord, maskCrc, maskedCrc32c } from './tfrecord.js';

describe('TFRecord framing', () => {
  it('masks CRC32C as TFRecord does', () => {
    // CRC32C("123456789") = 0xe3069283 (the catalogue check value); masked: rotate right 15, add 0xa282ead8.
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(maskCrc(0xe3069283));
    const rotated = ((0xe3069283 >>> 15) | ((0xe3069283 << 17) >>> 0)) >>> 0;
    expect(maskCrc(0xe3069283)).toBe((rotated + 0xa282ead8) % 2 ** 32);
  });

  it('frames data as length, length CRC, data, data CRC (little-endian)', () => {
    const data = new Uint8Array([1, 2, 3]);
    const record = frameRecord(data);
    const view = new DataView(record.buffer);
    expect(record.length).toBe(19);
    expect(view.getBigUint64(0, true)).toBe(3n);
    expect(view.getUint32(8, true)).toBe(maskedCrc32c(record.subarray(0, 8)));
    expect([...record.subarray(12, 15)]).toEqual([1, 2, 3]);
    expect(view.getUint32(15, true)).toBe(maskedCrc32c(data));
  });
});

describe('openEventWriter', () => {
  it('writes scalars, histograms, images and a session start that an independent reader decodes', async () => {
    const dir = join(await temporaryFolder(), 'train');
    let clock = 1_700_000_000_123;
    const writer = await openEventWriter(dir, { now: () => clock, hostname: 'testhost' });
    expect(writer.path).toBe(join(dir, 'events.out.tfevents.1700000000.testhost'));
    clock += 1000;
    writer.addScalar('loss', 0.3, 7);
    writer.addSessionStart(5);
    const stats = valueStats([0, 1, 2, 3, Number.NaN], { bins: 3 });
    const histogram = histogramFromStats(stats)!;
    const png = await chart({ data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } }).toPNG();
    writer.add(9, [{ tag: 'weights/w', histogram }, { tag: 'curves', image: pngImage(png) }]);
    await writer.close();

    const path = writer.path;
    const events = (await readEventFiles([path]))[path]!;
    expect(events.map((e) => [e.what, e.step])).toEqual([
      ['file_version', 0],
      ['summary', 7],
      ['session_log', 5],
      ['summary', 9],
    ]);
    expect(events[0]!.file_version).toBe('brain.Event:2');
    expect(events[0]!.wall_time).toBeCloseTo(1_700_000_000.123, 6);
    expect(events[1]!.wall_time).toBeCloseTo(1_700_000_001.123, 6);
    expect(events[2]!.status).toBe('START');
    expect(valuesOf(events, 'loss')).toEqual([{ tag: 'loss', kind: 'simple_value', value: Math.fround(0.3), step: 7 }]);
    const [histo] = valuesOf(events, 'weights/w');
    // 4 finite values 0..3 in 3 bins over [0, 3]: edges 0, 1, 2, 3 → counts 1, 1, 2; TensorBoard keeps right edges.
    expect(histo).toMatchObject({ kind: 'histo', min: 0, max: 3, num: 4, sum: 6, bucket_limit: [1, 2, 3], bucket: [1, 1, 2] });
    expect(histo!.sum_squares).toBeCloseTo(14, 10);
    const [image] = valuesOf(events, 'curves');
    const { width, height } = pngImage(png);
    expect(image).toMatchObject({ kind: 'image', width, height, bytes: png.length });
    expect(width).toBeGreaterThan(10);
  });

  it('writes a zero scalar (a oneof member, kept although proto3 drops zero fields)', async () => {
    const writer = await openEventWriter(await temporaryFolder(), { hostname: 'h' });
    writer.addScalar('epoch', 0, 0);
    await writer.close();
    const events = (await readEventFiles([writer.path]))[writer.path]!;
    expect(valuesOf(events, 'epoch')).toEqual([{ tag: 'epoch', kind: 'simple_value', value: 0, step: 0 }]);
  });

  it('gives a second writer in the same second its own file', async () => {
    const dir = await temporaryFolder();
    const options = { now: () => 1_700_000_000_000, hostname: 'h' };
    const first = await openEventWriter(dir, options);
    const second = await openEventWriter(dir, options);
    await Promise.all([first.close(), second.close()]);
    expect(second.path).not.toBe(first.path);
    expect((await readdir(dir)).sort()).toEqual([`events.out.tfevents.1700000000.h`, `events.out.tfevents.1700000000.h.${process.pid}.1`]);
  });

  it('makes the independent reader fail on a corrupted record', async () => {
    const dir = await temporaryFolder();
    const writer = await openEventWriter(dir, { hostname: 'h' });
    writer.addScalar('loss', 1, 1);
    await writer.close();
    const bytes = await readFile(writer.path);
    bytes[bytes.length - 6] = bytes[bytes.length - 6]! ^ 0xff; // inside the last record's data
    const broken = join(dir, 'broken.tfevents');
    await writeFile(broken, bytes);
    await expect(readEventFiles([broken])).rejects.toThrow(/bad data CRC/);
  });

  it('rejects bad arguments with the value received', async () => {
    await expect(openEventWriter('')).rejects.toThrow('dir must be a non-empty folder path (received "")');
    expect(() => pngImage(new Uint8Array(40))).toThrow('png must be PNG bytes (received 40 bytes without the PNG signature)');
    const writer = await openEventWriter(await temporaryFolder(), { hostname: 'h' });
    await writer.close();
    expect(() => writer.addScalar('x', 1, 0)).toThrow(/is closed/);
  });
});

describe('histogramFromStats', () => {
  it('turns the learner statistics into TensorBoard sums and buckets', () => {
    const values = [-1, 0.5, 0.5, 2];
    const histogram = histogramFromStats(valueStats(values, { bins: 2 }))!;
    expect(histogram.num).toBe(4);
    expect(histogram.sum).toBeCloseTo(2, 12);
    expect(histogram.sumSquares).toBeCloseTo(1 + 0.25 + 0.25 + 4, 12);
    expect(histogram.bucketLimit).toEqual([0.5, 2]);
    expect(histogram.bucket).toEqual([1, 3]);
    expect(histogramFromStats(valueStats([Number.NaN]))).toBeUndefined();
  });
});
