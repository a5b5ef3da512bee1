import { describe, expect, it } from 'vitest';
import { classCounts, createImageDataset, subset } from './dataset.js';

/** Four 1×2×1 images whose bytes are [10·i, 10·i + 1], labels [0, 1, 1, 2]. */
function tiny() {
  return createImageDataset({
    images: Uint8Array.from([0, 1, 10, 11, 20, 21, 30, 31]),
    labels: [0, 1, 1, 2],
    shape: [1, 2, 1],
    classNames: ['zero', 'one', 'two'],
    source: 'test',
  });
}

describe('createImageDataset', () => {
  it('fills in length, numClasses and class names', () => {
    const ds = tiny();
    expect(ds.length).toBe(4);
    expect(ds.numClasses).toBe(3);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(ds.source).toBe('test');
    const unnamed = createImageDataset({ images: new Uint8Array(3), labels: [0, 2, 1], shape: [1, 1, 1] });
    expect(unnamed.numClasses).toBe(3);
    expect(unnamed.classNames).toEqual(['0', '1', '2']);
    expect(unnamed.source).toBe('memory');
  });

  it('rejects inconsistent inputs with the values received', () => {
    expect(() => createImageDataset({ images: new Uint8Array(3), labels: [0, 1], shape: [1, 2, 1] })).toThrow(
      'images must hold labels.length × H × W × C = 2 × 1 × 2 × 1 = 4 bytes (received 3)',
    );
    expect(() => createImageDataset({ images: new Uint8Array(0), labels: [], shape: [0, 2, 1] })).toThrow(
      'shape must be [height, width, channels], three positive integers (received [0,2,1])',
    );
    expect(() => createImageDataset({ images: new Uint8Array(2), labels: [0, 2], shape: [1, 1, 1], numClasses: 2 })).toThrow(
      'labels[1] must be a class index below numClasses = 2 (received 2)',
    );
    expect(() => createImageDataset({ images: new Uint8Array(1), labels: [-1], shape: [1, 1, 1] })).toThrow(
      'labels[0] must be a non-negative class index (received -1)',
    );
    expect(() =>
      createImageDataset({ images: new Uint8Array(1), labels: [0], shape: [1, 1, 1], numClasses: 3, classNames: ['a'] }),
    ).toThrow('classNames must have numClasses = 3 entries (received 1)');
  });
});

describe('subset', () => {
  it('copies the rows at the given indices, in order, repeats allowed', () => {
    const ds = tiny();
    const picked = subset(ds, [3, 1, 1]);
    expect(Array.from(picked.images)).toEqual([30, 31, 10, 11, 10, 11]);
    expect(Array.from(picked.labels)).toEqual([2, 1, 1]);
    expect(picked.length).toBe(3);
    expect(picked.classNames).toEqual(ds.classNames);
    picked.images[0] = 99;
    expect(ds.images[6]).toBe(30);
  });

  it('rejects out-of-range and fractional indices', () => {
    expect(() => subset(tiny(), [0, 4])).toThrow('indices[1] must be an integer in [0, 4) (received 4)');
    expect(() => subset(tiny(), [0.5])).toThrow('indices[0] must be an integer in [0, 4) (received 0.5)');
  });
});

describe('classCounts', () => {
  it('counts each class, including empty ones', () => {
    expect(classCounts(tiny())).toEqual([1, 2, 1]);
    const sparse = createImageDataset({ images: new Uint8Array(2), labels: [3, 3], shape: [1, 1, 1], numClasses: 5 });
    expect(classCounts(sparse)).toEqual([0, 0, 0, 2, 0]);
  });
});

describe('createImageDataset labels', () => {
  it('refuses float labels where class indices are expected, and labels out of range', () => {
    expect(() => createImageDataset({ images: new Uint8Array(2), labels: [0, 0.5], shape: [1, 1, 1], numClasses: 2 })).toThrow(
      'labels[1] must be an integer class index (received 0.5)',
    );
    expect(() => createImageDataset({ images: new Uint8Array(2), labels: [0, 7], shape: [1, 1, 1], classNames: ['a', 'b'] })).toThrow(
      'labels[1] must be a class index below numClasses = 2 (received 7)',
    );
    expect(() => createImageDataset({ images: new Uint8Array(3), labels: [0, 1, 200], shape: [1, 1, 1] })).toThrow(
      'labels[2] is 200, so the default class names would make 201 classes, but class 2, 3, 4, 5, 6, … (198 classes) have no images',
    );
  });
});
