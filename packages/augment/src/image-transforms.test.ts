import { describe, it, expect } from 'vitest';
import { Rng } from '@convkit/core';
import {
  applyRecorded, blur, brightness, colorJitter, compose, cutout, gaussianNoise, horizontalFlip, oneOf, randomCrop,
  randomResizedCrop, rotate, sampleTransform, shiftScaleRotate, someOf, verticalFlip, zoom,
} from './index.js';
import type { ImageTransform, RawImage } from './index.js';
import { composeAffine, embedRegion, readRegion, warpAffine } from './warp.js';

function image(width: number, height: number, channels = 3, seed = 1): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 200);
  return { data, width, height, channels };
}
const at = (im: RawImage, x: number, y: number, k: number): number => im.data[(y * im.width + x) * im.channels + k]!;
const shape = { height: 8, width: 8, channels: 3 };

describe('geometric transforms', () => {
  it('flipping twice is the identity, and one flip mirrors exactly', () => {
    const im = image(5, 4);
    const h = horizontalFlip({ p: 1 });
    const once = h.apply(im, { flipped: true });
    expect(at(once, 0, 2, 1)).toBe(at(im, 4, 2, 1));
    expect(h.apply(once, { flipped: true }).data).toEqual(im.data);
    const v = verticalFlip({ p: 1 });
    expect(at(v.apply(im, { flipped: true }), 1, 0, 2)).toBe(at(im, 1, 3, 2));
  });
  it('rotating by 90° equals a transpose followed by a flip, exactly', () => {
    const im = image(6, 6);
    const turned = rotate().apply(im, { angle: 90 });
    for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) for (let k = 0; k < 3; k++) {
      // counter-clockwise on screen: output (x, y) reads input (y, 5 − x)
      expect(at(turned, x, y, k)).toBe(at(im, y, 5 - x, k));
    }
  });
  it('randomCrop extracts the sampled region and refuses a crop larger than the image', () => {
    const im = image(8, 6);
    const crop = randomCrop({ width: 3, height: 2 });
    const params = crop.sample(new Rng(3), { width: 8, height: 6, channels: 3 });
    const out = crop.apply(im, params);
    expect([out.width, out.height]).toEqual([3, 2]);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) expect(at(out, x, y, 0)).toBe(at(im, params.left + x, params.top + y, 0));
    expect(() => randomCrop({ width: 9, height: 2 }).sample(new Rng(0), { width: 8, height: 6, channels: 3 })).toThrow(/9×2.*8×6/);
  });
  it('randomResizedCrop keeps area and ratio within range and outputs the asked size', () => {
    const crop = randomResizedCrop({ width: 4, height: 4, scale: [0.25, 0.5], ratio: [1, 1] });
    const rng = new Rng(5);
    for (let i = 0; i < 50; i++) {
      const p = crop.sample(rng, { width: 40, height: 40, channels: 3 });
      expect(p.width).toBe(p.height);
      expect(p.width * p.height).toBeGreaterThanOrEqual(0.24 * 1600);
      expect(p.width * p.height).toBeLessThanOrEqual(0.51 * 1600);
      expect(p.left + p.width).toBeLessThanOrEqual(40);
    }
    expect(crop.apply(image(40, 40), { left: 0, top: 0, width: 40, height: 40 }).width).toBe(4);
  });
  it('strength 0 makes every transform the identity', () => {
    const im = image(8, 8);
    const all = [horizontalFlip({ p: 1 }), rotate(), shiftScaleRotate({ p: 1 }), zoom(), colorJitter(), gaussianNoise({ p: 1 }), blur({ p: 1 }), cutout({ p: 1 })];
    const pipeline = compose(all);
    pipeline.strength = 0;
    expect(pipeline.run(im, new Rng(2)).image.data).toEqual(im.data);
    const crop = randomResizedCrop({ width: 8, height: 8 });
    crop.strength = 0;
    expect(crop.apply(im, crop.sample(new Rng(1), shape)).data).toEqual(im.data);
  });
});

describe('colour and erasing', () => {
  it('brightness multiplies the mean by its factor', () => {
    const im = image(8, 8);
    const out = brightness().apply(im, { brightness: 1.25, contrast: 1, saturation: 1, hue: 0 });
    const mean = (x: RawImage): number => x.data.reduce((a, v) => a + v, 0) / x.data.length;
    expect(mean(out)).toBeCloseTo(1.25 * mean(im), 0);
    expect(Math.abs(mean(out) - 1.25 * mean(im))).toBeLessThan(0.5);
  });
  it('cutout zeroes exactly the sampled rectangle', () => {
    const im = { ...image(10, 10), data: image(10, 10).data.map((v) => v + 1) };
    const t = cutout({ p: 1, size: 0.4 });
    const params = t.sample(new Rng(9), { width: 10, height: 10, channels: 3 });
    const out = t.apply(im, params);
    const r = params.rects[0]!;
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) {
      const inside = x >= r.left && x < r.left + r.width && y >= r.top && y < r.top + r.height;
      expect(at(out, x, y, 1)).toBe(inside ? 0 : at(im, x, y, 1));
    }
  });
});

describe('chance, containers and replay', () => {
  it('p = 0 never applies, p = 1 always, p = 0.3 within 5 standard errors over 2000 draws', () => {
    const rng = new Rng(11);
    const count = (p: number): number => Array.from({ length: 2000 }, () => sampleTransform(rotate({ p }), rng, shape).applied).filter(Boolean).length;
    expect(count(0)).toBe(0);
    expect(count(1)).toBe(2000);
    expect(Math.abs(count(0.3) / 2000 - 0.3)).toBeLessThan(5 * Math.sqrt((0.3 * 0.7) / 2000));
  });
  it('oneOf picks by the children weights and someOf picks n', () => {
    const chooser = oneOf([rotate({ p: 3 / 4 }), zoom({ p: 1 / 4 })]);
    const rng = new Rng(4);
    let first = 0;
    for (let i = 0; i < 2000; i++) if ((chooser.sampleAll(rng, shape).params as { index: number }[])[0]!.index === 0) first++;
    expect(Math.abs(first / 2000 - 0.75)).toBeLessThan(5 * Math.sqrt((0.75 * 0.25) / 2000));
    const some = someOf([rotate(), zoom(), colorJitter()], { n: 2 });
    for (let i = 0; i < 20; i++) expect((some.sampleAll(rng, shape).params as unknown[]).length).toBe(2);
  });
  it('the same seed gives the same bytes, and a JSON round-tripped record replays exactly', () => {
    const im = image(12, 10);
    const pipeline = compose([randomResizedCrop({ width: 8, height: 8 }), horizontalFlip(), rotate(), colorJitter(), gaussianNoise(), cutout()]);
    const a = pipeline.run(im, new Rng(21));
    const b = pipeline.run(im, new Rng(21));
    expect(b.image.data).toEqual(a.image.data);
    const record = JSON.parse(JSON.stringify(a.record));
    expect(pipeline.applyRecorded(im, record).data).toEqual(a.image.data);
    expect(applyRecorded(pipeline, im, record).data).toEqual(a.image.data);
  });
  it('rejects probabilities outside [0, 1] and records of another transform', () => {
    expect(() => rotate({ p: 1.5 })).toThrow('rotate: p must be a number in [0, 1] (received 1.5)');
    expect(() => compose([], { p: -1 })).toThrow(/compose: p/);
    const t = rotate();
    expect(() => { t.strength = 2; }).toThrow(/strength/);
    expect(() => applyRecorded(t, image(2, 2), { name: 'zoom', applied: true })).toThrow(/"rotate".*"zoom"/);
  });
});

describe('fast paths equal the plain ones', () => {
  it('warpAffine reads no pixel outside readRegion: the rectangle alone in a frame of noise warps to the same bytes', () => {
    const im = image(37, 29);
    const rng = new Rng(31);
    const crop = randomResizedCrop({ width: 13, height: 11 });
    const geometry: ImageTransform[] = [crop, horizontalFlip(), rotate({ degrees: 40 }), shiftScaleRotate({ p: 1, shift: 0.3, scale: 0.5 })];
    let smallest = Infinity;
    for (let trial = 0; trial < 200; trial++) {
      let map = crop.affine!(im, crop.sample(rng, im));
      for (const t of geometry.slice(1)) {
        const step = t.affine!({ width: map.width, height: map.height, channels: 3 }, t.sample(rng, im));
        map = composeAffine(map, step);
      }
      const region = readRegion(map, im.width, im.height);
      smallest = Math.min(smallest, region.width * region.height);
      const part = new Uint8Array(region.width * region.height * 3);
      for (let y = 0; y < region.height; y++) {
        const start = ((region.top + y) * im.width + region.left) * 3;
        part.set(im.data.subarray(start, start + region.width * 3), y * region.width * 3);
      }
      const garbage = Uint8Array.from({ length: im.data.length + 9 }, () => rng.int(0, 256));
      const framed = embedRegion({ data: part, width: region.width, height: region.height, channels: 3 }, region, im.width, im.height, garbage);
      expect(framed.data.buffer).toBe(garbage.buffer);
      const fill = trial % 2 === 0 ? 0 : 77;
      expect(Buffer.compare(warpAffine(framed, map, fill).data, warpAffine(im, map, fill).data)).toBe(0);
    }
    expect(smallest).toBeLessThan(im.width * im.height); // some rectangles are strict parts of the image
  });
  it('colour jitter written as floats equals the jittered bytes times the scale, for 1 to 4 channels', () => {
    const jitter = colorJitter({ brightness: 0.5, contrast: 0.5, saturation: 0.5, hue: 0.2 });
    const rng = new Rng(8);
    for (const channels of [1, 2, 3, 4]) {
      const im = image(9, 7, channels, channels);
      const params = jitter.sample(rng, im);
      const bytes = jitter.apply(im, params).data;
      const out = new Float32Array(bytes.length + 5).fill(-1);
      expect(jitter.applyToFloat32!(im, params, out, 5, 1 / 255)).toBe(bytes.length);
      expect(Array.from(out.subarray(5))).toEqual(Array.from(Float32Array.from(bytes, (v) => v * (1 / 255))));
      expect(Array.from(out.subarray(0, 5))).toEqual([-1, -1, -1, -1, -1]);
    }
  });
});
