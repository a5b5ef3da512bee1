// Random convolution cases shared by the wasm gradient tests (conv2d and depthwise): every padding kind, strides,
// dilations and non-square kernels, drawn from a seeded stream so that each test sees the same cases on every run.
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.js';
import { expectNoLeak, relativeError } from './testing.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type Shape4 = [number, number, number, number];

/** One convolution: NHWC input shape, filter shape ([KH, KW, inC, outC], or [KH, KW, C, multiplier] for depthwise). */
export interface ConvCase {
  xShape: Shape4;
  filterShape: Shape4;
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
}

/** The input, filter and upstream gradient of one case. */
export interface CaseData {
  x: Float32Array;
  filter: Float32Array;
  dy: Float32Array;
}

/** `size` standard normal draws. */
export function normals(rng: Rng, size: number): Float32Array {
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.normal();
  return values;
}

/** The number of elements of a shape. */
export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Case number `index`: kernel 1/3/5 and padding same/valid/explicit/number cycle with the index, every fifth case is
 * dilated; channels are drawn in [1, channelsBelow) and the filter's last dimension in [1, lastBelow).
 */
export function randomConvCase(rng: Rng, index: number, channelsBelow: number, lastBelow: number): ConvCase {
  const kernel = [1, 3, 5][index % 3] as number;
  const padKind = ['same', 'valid', 'explicit', 'number'][index % 4] as string;
  const dilation = index % 5 === 4 ? 2 : 1;
  // tfjs computes numeric pads from the filter height and stride height only: keep those square.
  const square = padKind === 'number';
  const kernelWidth = !square && rng.next() < 0.3 ? ([1, 3, 5][rng.int(0, 3)] as number) : kernel;
  const stride = dilation > 1 ? 1 : ([1, 2, 3][rng.int(0, 3)] as number);
  const strideWidth = dilation === 1 && !square && rng.next() < 0.3 ? rng.int(1, 4) : stride;
  const reach = (kernel - 1) * dilation + 1;
  const reachWidth = (kernelWidth - 1) * dilation + 1;
  let height = rng.int(reach, reach + 8);
  let width = rng.int(reachWidth, reachWidth + 8);
  let pad: Pad = padKind as 'same' | 'valid';
  if (padKind === 'explicit') pad = [[0, 0], [rng.int(0, 4), rng.int(0, 4)], [rng.int(0, 4), rng.int(0, 4)], [0, 0]];
  if (padKind === 'number') {
    const amount = rng.int(0, 3);
    pad = amount;
    // A numeric pad needs (size + 2·pad − reach) divisible by the stride, or tfjs's shapes are fractional.
    height += (stride - ((height + 2 * amount - reach) % stride)) % stride;
    width += (stride - ((width + 2 * amount - reachWidth) % stride)) % stride;
  }
  const channels = rng.int(1, channelsBelow);
  return {
    xShape: [rng.int(1, 4), height, width, channels],
    filterShape: [kernel, kernelWidth, channels, rng.int(1, lastBelow)],
    strides: [stride, strideWidth],
    dilations: [dilation, dilation],
    pad,
  };
}

/** A small classifier to train for a few SGD steps on two backends, from the same weights and data. */
export interface TrainingCase {
  layers: () => tf.layers.Layer[];
  /** The initial weights, given the model's weight shapes. */
  initialWeights: (shapes: number[][]) => Float32Array[];
  x: Float32Array;
  xShape: Shape4;
  y: Float32Array;
  yShape: [number, number];
  learningRate: number;
}

/**
 * Four SGD steps of softmax cross-entropy on `backend` (with convkit's wasm kernels on wasm), failing on a leaked
 * tensor: the losses and the final weights.
 */
export async function trainFourSteps(backend: string, c: TrainingCase): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await tf.setBackend(backend);
  if (backend === 'wasm') registerWasmGradientKernels();
  return expectNoLeak(() => {
    const model = tf.sequential({ layers: c.layers() });
    const shapes = model.getWeights().map((w) => w.shape);
    const values = c.initialWeights(shapes).map((v, i) => tf.tensor(v, shapes[i]));
    model.setWeights(values);
    tf.dispose(values);
    const x = tf.tensor4d(c.x, c.xShape);
    const y = tf.tensor2d(c.y, c.yShape);
    const optimizer = tf.train.sgd(c.learningRate);
    const losses: number[] = [];
    for (let step = 0; step < 4; step++) {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor), true);
      losses.push(loss!.dataSync()[0] as number);
      loss!.dispose();
    }
    const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
    return { losses, weights };
  });
}

/**
 * Trains `c` four steps on cpu and on wasm and expects the wasm loss to fall and the losses and final weights of both to
 * agree within a relative error of 1e-4.
 */
export async function expectWasmTrainingMatchesCpu(c: TrainingCase): Promise<void> {
  const onCpu = await trainFourSteps('cpu', c);
  const onWasm = await trainFourSteps('wasm', c);
  expect(onWasm.losses[3]).toBeLessThan(onWasm.losses[0] as number);
  expect(relativeError(onCpu.losses, onWasm.losses)).toBeLessThan(1e-4);
  onCpu.weights.forEach((w, i) => expect(relativeError(w, onWasm.weights[i] as Float32Array)).toBeLessThan(1e-4));
}

/**
 * Central finite differences in float64 of `evaluate` at `values`, one coordinate at a time with step `step`
 * (defaults to 1e-3): the numeric gradient the analytic kernels are checked against.
 */
export function centralDifferences(values: Float32Array, evaluate: (perturbed: Float64Array) => number, step = 1e-3): Float64Array {
  return Float64Array.from(values, (_, i) => {
    const plus = Float64Array.from(values);
    const minus = Float64Array.from(values);
    plus[i]! += step;
    minus[i]! -= step;
    return (evaluate(plus) - evaluate(minus)) / (2 * step);
  });
}

/**
 * For each case, takes `gradients` on cpu and on wasm (which must leak nothing) and expects dx and dW equal within a
 * relative error of 1e-5; returns how many cases were checked.
 */
export async function expectWasmGradientsMatchCpu<C>(
  cases: readonly { c: C; data: CaseData }[],
  gradients: (c: C, data: CaseData) => { dx: Float32Array; dw: Float32Array },
): Promise<number> {
  for (const { c, data } of cases) {
    await tf.setBackend('cpu');
    const reference = gradients(c, data);
    await tf.setBackend('wasm');
    const actual = await expectNoLeak(() => gradients(c, data));
    const label = JSON.stringify(c);
    expect(relativeError(reference.dx, actual.dx), `dx ${label}`).toBeLessThan(1e-5);
    expect(relativeError(reference.dw, actual.dw), `dW ${label}`).toBeLessThan(1e-5);
  }
  return cases.length;
}
