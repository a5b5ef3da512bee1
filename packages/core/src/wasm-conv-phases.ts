// Conv2DBackpropInput for stride > 1 as one small forward convolution per output phase, instead of a convolution
// over dy with stride−1 zeros inserted (which spends (1 − 1/stride²) of its work multiplying zeros).
import type * as tf from '@tensorflow/tfjs';
import { callWasmKernel, free } from './wasm-kernel-call.js';
import { heapFloats, makeOutput } from './wasm-heap.js';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

/** The taps of one phase along one axis: dxPhase[i] = Σ_t dy[i + first + t·step] · w[taps[t]]. */
interface AxisPhase {
  /** Output rows (or columns) in this phase: positions phase, phase + stride, … below the input size. */
  count: number;
  /** Filter indices in the order the sub-convolution uses them (ascending dy offset). */
  taps: number[];
  first: number;
  step: number;
}

/**
 * Splits one axis of the input gradient into `stride` phases. Input row h = phase + stride·i receives
 * dy[oh] · w[k] whenever h + pad = oh·stride + k·dilation, i.e. for the taps k with
 * (phase + pad − k·dilation) ≡ 0 (mod stride), at dy offset oh − i = (phase + pad − k·dilation) / stride.
 */
function axisPhases(size: number, filter: number, stride: number, dilation: number, pad: number): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let phase = 0; phase < stride; phase++) {
    const count = phase < size ? Math.ceil((size - phase) / stride) : 0;
    const taps: number[] = [];
    const offsets: number[] = [];
    for (let k = filter - 1; k >= 0; k--) {
      const reach = phase + pad - k * dilation;
      if (((reach % stride) + stride) % stride === 0) {
        taps.push(k);
        offsets.push(reach / stride);
      }
    }
    const first = offsets[0] ?? 0;
    const step = offsets.length > 1 ? (offsets[1] as number) - first : 1;
    phases.push({ count, taps, first, step });
  }
  return phases;
}

/** The dy window a phase reads along one axis, clipped to dy, with the zero padding the convolution adds. */
function window(phase: AxisPhase, dySize: number): { begin: number; size: number; before: number; after: number } | undefined {
  const last = phase.count - 1 + phase.first + (phase.taps.length - 1) * phase.step;
  const begin = Math.max(0, phase.first);
  const end = Math.min(dySize - 1, last);
  if (phase.count === 0 || phase.taps.length === 0 || end < begin) return undefined;
  return { begin, size: end - begin + 1, before: begin - phase.first, after: last - end };
}

/**
 * dx for stride > 1 (any padding, dilation and filter size): for each of the strideHeight × strideWidth phases of
 * dx, a stride-1 forward convolution of a window of dy with the phase's taps of the 180°-rotated filter (as
 * [JH, JW, outC, inC]), then the phases are interleaved into dx. Total work equals the useful work of the gradient.
 */
export function conv2dBackpropInputByPhases(
  dy: TensorInfo,
  filter: TensorInfo,
  backend: Backend,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outChannels, strideHeight, strideWidth } = info;
  const [, dyHeight, dyWidth] = dy.shape as [number, number, number, number];
  const rows = axisPhases(inHeight, info.filterHeight, strideHeight, info.dilationHeight, info.padInfo.top);
  const cols = axisPhases(inWidth, info.filterWidth, strideWidth, info.dilationWidth, info.padInfo.left);
  const results: { row: number; col: number; out: TensorInfo }[] = [];
  let complete = true;
  for (let row = 0; row < strideHeight; row++) {
    for (let col = 0; col < strideWidth; col++) {
      const r = rows[row] as AxisPhase;
      const c = cols[col] as AxisPhase;
      const rowWindow = window(r, dyHeight);
      const colWindow = window(c, dyWidth);
      if (rowWindow === undefined || colWindow === undefined) {
        complete = complete && (r.count === 0 || c.count === 0);
        continue;
      }
      const whole = rowWindow.begin === 0 && rowWindow.size === dyHeight && colWindow.begin === 0 && colWindow.size === dyWidth;
      const input = whole
        ? dy
        : callWasmKernel('Slice', { x: dy }, backend, {
            begin: [0, rowWindow.begin, colWindow.begin, 0],
            size: [batchSize, rowWindow.size, colWindow.size, outChannels],
          });
      const sub = makeOutput(backend, [r.taps.length, c.taps.length, outChannels, inChannels]);
      const w = heapFloats(backend, filter, 'Conv2DBackpropInput');
      const s = heapFloats(backend, sub, 'Conv2DBackpropInput');
      let at = 0;
      for (const kh of r.taps) {
        for (const kw of c.taps) {
          const base = (kh * info.filterWidth + kw) * inChannels * outChannels;
          for (let co = 0; co < outChannels; co++) {
            for (let ci = 0; ci < inChannels; ci++) s[at++] = w[base + ci * outChannels + co] as number;
          }
        }
      }
      const out = callWasmKernel('Conv2D', { x: input, filter: sub }, backend, {
        strides: [1, 1],
        dilations: [r.step, c.step],
        pad: [[0, 0], [rowWindow.before, rowWindow.after], [colWindow.before, colWindow.after], [0, 0]],
        dataFormat: 'NHWC',
      });
      free(backend, sub);
      if (input !== dy) free(backend, input);
      results.push({ row, col, out });
    }
  }
  const dx = makeOutput(backend, [batchSize, inHeight, inWidth, inChannels]);
  const target = heapFloats(backend, dx, 'Conv2DBackpropInput');
  if (!complete) target.fill(0);
  for (const { row, col, out } of results) {
    const source = heapFloats(backend, out, 'Conv2DBackpropInput');
    const phaseRows = (rows[row] as AxisPhase).count;
    const phaseCols = (cols[col] as AxisPhase).count;
    let from = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let i = 0; i < phaseRows; i++) {
        let to = ((b * inHeight + row + i * strideHeight) * inWidth + col) * inChannels;
        for (let j = 0; j < phaseCols; j++) {
          target.set(source.subarray(from, from + inChannels), to);
          from += inChannels;
          to += strideWidth * inChannels;
        }
      }
    }
    free(backend, out);
  }
  return dx;
}
