import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { liveLearningCurves } from './live-curves.js';
import { linearRun } from './run.test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A stand-in for tslab's newDisplay(): records what each display shows. */
function fakeDisplays(): { make(): { png(bytes: Uint8Array): void }; shown: Uint8Array[][] } {
  const shown: Uint8Array[][] = [];
  return {
    shown,
    make() {
      const frames: Uint8Array[] = [];
      shown.push(frames);
      return { png: (bytes) => frames.push(bytes) };
    },
  };
}

describe('liveLearningCurves', () => {
  it('redraws one display per fit after each epoch, the chart growing', async () => {
    const displays = fakeDisplays();
    const run = linearRun([liveLearningCurves({ target: () => displays.make() })]);
    await run.learner.fit(3);
    await run.learner.fit(1);
    run.dispose();
    expect(displays.shown.map((frames) => frames.length)).toEqual([3, 1]); // one display per fit, updated in place
    const signatures = displays.shown[0]!.map((png) => Buffer.from(png.subarray(1, 4)).toString('latin1'));
    expect(signatures).toEqual(['PNG', 'PNG', 'PNG']);
    const [a, b] = displays.shown[0]!;
    expect(Buffer.from(a!).equals(Buffer.from(b!))).toBe(false); // a new point was drawn
  });

  it('redraws every `every` epochs and after the last', async () => {
    const displays = fakeDisplays();
    const svgs: string[] = [];
    const run = linearRun([
      liveLearningCurves({ target: () => displays.make(), every: 2 }),
      { ...liveLearningCurves({ target: { svg: (text: string) => svgs.push(text) }, format: 'svg' }), name: 'svgCurves' },
    ]);
    await run.learner.fit(3);
    run.dispose();
    expect(displays.shown[0]).toHaveLength(2); // after epoch 2, then at the end (epoch 3)
    expect(svgs).toHaveLength(3);
    expect(svgs[2]).toContain('<svg');
  });

  it('rejects a target that cannot show images', () => {
    expect(() => liveLearningCurves({ target: {} as never })).toThrow('target must be tslab.newDisplay or a display with png() or svg() (received object)');
    expect(() => liveLearningCurves({ target: () => ({ png() {} }), every: 0 })).toThrow('every must be a positive integer (received 0)');
  });
});
