import { describe, expect, it } from 'vitest';
import { FUSED_ACTIVATIONS, geometryProblem, loadNative, nativeStatus, packGeometry, type ConvGeometry, type FusedActivation } from './index.js';

// References: direct loops over the definitions, in float64.
const native = loadNative();

function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

function filled(length: number, random: () => number): Float32Array {
  return Float32Array.from({ length }, random);
}

/** tfjs's 'same' (or 'valid') pads for one axis. */
function pads(input: number, filter: number, stride: number, dilation: number, same: boolean): [number, number, number] {
  const extent = (filter - 1) * dilation + 1;
  if (!same) return [0, 0, Math.floor((input - extent) / stride) + 1];
  const out = Math.ceil(input / stride);
  const total = Math.max(0, (out - 1) * stride + extent - input);
  return [Math.floor(total / 2), total - Math.floor(total / 2), out];
}

function geometry(n: number, h: number, w: number, c: number, oc: number, k: [number, number], stride: [number, number], dilation: [number, number], same: boolean): ConvGeometry {
  const [top, bottom, outHeight] = pads(h, k[0], stride[0], dilation[0], same);
  const [left, right, outWidth] = pads(w, k[1], stride[1], dilation[1], same);
  return {
    batchSize: n, inHeight: h, inWidth: w, inChannels: c, outChannels: oc, filterHeight: k[0], filterWidth: k[1],
    outHeight, outWidth, strideHeight: stride[0], strideWidth: stride[1], dilationHeight: dilation[0],
    dilationWidth: dilation[1], padInfo: { top, left, bottom, right },
  };
}

/** Calls visit(xIndex, filterIndex, yIndex) for every multiply of the convolution. */
function eachTap(g: ConvGeometry, visit: (xi: number, fi: number, yi: number) => void): void {
  for (let b = 0; b < g.batchSize; b++)
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++)
        for (let ky = 0; ky < g.filterHeight; ky++)
          for (let kx = 0; kx < g.filterWidth; kx++) {
            const iy = oy * g.strideHeight + ky * g.dilationHeight - g.padInfo.top;
            const ix = ox * g.strideWidth + kx * g.dilationWidth - g.padInfo.left;
            if (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth) continue;
            for (let ci = 0; ci < g.inChannels; ci++)
              for (let co = 0; co < g.outChannels; co++) {
                visit(
                  ((b * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci,
                  ((ky * g.filterWidth + kx) * g.inChannels + ci) * g.outChannels + co,
                  ((b * g.outHeight + oy) * g.outWidth + ox) * g.outChannels + co,
                );
              }
          }
}

function sizes(g: ConvGeometry): { x: number; filter: number; y: number } {
  return {
    x: g.batchSize * g.inHeight * g.inWidth * g.inChannels,
    filter: g.filterHeight * g.filterWidth * g.inChannels * g.outChannels,
    y: g.batchSize * g.outHeight * g.outWidth * g.outChannels,
  };
}

function maxRelativeError(actual: Float32Array, expected: Float64Array | Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (const value of expected) scale = Math.max(scale, Math.abs(value));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  return worst / Math.max(scale, 1e-12);
}

const CASES: [string, ConvGeometry][] = [
  ['3×3 same, stride 1', geometry(2, 7, 6, 3, 5, [3, 3], [1, 1], [1, 1], true)],
  ['3×3 valid, stride 2', geometry(2, 9, 8, 4, 3, [3, 3], [2, 2], [1, 1], false)],
  ['2×3 same, strides 2×1 (uneven pads)', geometry(1, 8, 7, 2, 4, [2, 3], [2, 1], [1, 1], true)],
  ['3×3 same, dilation 2', geometry(2, 8, 8, 3, 2, [3, 3], [1, 1], [2, 2], true)],
  ['5×5 valid, stride 3 (skipped rows: negative far pads)', geometry(1, 12, 11, 2, 3, [5, 5], [3, 3], [1, 1], false)],
  ['1×1, one input channel', geometry(3, 4, 5, 1, 6, [1, 1], [1, 1], [1, 1], true)],
];

describe('conv2d', () => {
  it.each(CASES)('%s: equals the direct sum, with bias and each fused activation', (_name, g) => {
    const random = makeRandom(g.inHeight * 31 + g.outChannels);
    const n = sizes(g);
    const x = filled(n.x, random);
    const filter = filled(n.filter, random);
    const bias = filled(g.outChannels, random);
    const linear = new Float64Array(n.y);
    eachTap(g, (xi, fi, yi) => {
      linear[yi] = (linear[yi] as number) + (x[xi] as number) * (filter[fi] as number);
    });
    for (let i = 0; i < n.y; i++) linear[i] = (linear[i] as number) + (bias[i % g.outChannels] as number);
    const activations: Record<FusedActivation, (v: number) => number> = {
      linear: (v) => v,
      relu: (v) => Math.max(v, 0),
      relu6: (v) => Math.min(Math.max(v, 0), 6),
      leakyrelu: (v) => (v > 0 ? v : 0.3 * v),
      elu: (v) => (v > 0 ? v : Math.expm1(v)),
      sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    };
    for (const name of Object.keys(FUSED_ACTIVATIONS) as FusedActivation[]) {
      const y = new Float32Array(n.y);
      native.conv2d(g, x, filter, bias, y, name, 0.3);
      expect(maxRelativeError(y, linear.map(activations[name])), name).toBeLessThan(1e-5);
    }
    const noBias = new Float32Array(n.y);
    native.conv2d(g, x, filter, null, noBias);
    const expected = linear.map((v, i) => v - (bias[i % g.outChannels] as number));
    expect(maxRelativeError(noBias, expected)).toBeLessThan(1e-5);
  });

  it('keeps NaN through relu and relu6 as tfjs does (oneDNN\'s max-based post-ops would give 0), and maps -∞ to 0', () => {
    // A 1×1 convolution of one pixel with two channels, both +∞: output 0 = ∞ − ∞ = NaN, output 1 = −∞, output 2 = NaN
    // from a NaN bias, output 3 = +∞.
    const g = geometry(1, 1, 1, 2, 4, [1, 1], [1, 1], [1, 1], false);
    const x = Float32Array.from([Infinity, Infinity]);
    const filter = Float32Array.from([1, -1, 0.5, 1, -1, -1, 0.5, 1]); // HWIO: row = input channel, column = output
    const bias = Float32Array.from([0, 0, NaN, 0]);
    for (const [name, top] of [['relu', Infinity], ['relu6', 6]] as const) {
      const y = new Float32Array(4);
      native.conv2d(g, x, filter, bias, y, name);
      expect(Array.from(y), name).toEqual([NaN, 0, NaN, top]);
    }
    // A finite call whose sums cannot overflow still runs the fused post-op: relu of finite values.
    const finite = new Float32Array(4);
    native.conv2d(g, Float32Array.from([1, 2]), filter, Float32Array.from([0, 0, 1, 0]), finite, 'relu');
    expect(Array.from(finite)).toEqual([0, 0, 2.5, 3]);
  });
});

describe('convolution gradients', () => {
  it.each(CASES)('%s: backward data and filter equal the adjoint sums', (_name, g) => {
    const random = makeRandom(g.inWidth * 17 + g.inChannels);
    const n = sizes(g);
    const x = filled(n.x, random);
    const filter = filled(n.filter, random);
    const dy = filled(n.y, random);
    const dxExpected = new Float64Array(n.x);
    const dfExpected = new Float64Array(n.filter);
    eachTap(g, (xi, fi, yi) => {
      dxExpected[xi] = (dxExpected[xi] as number) + (dy[yi] as number) * (filter[fi] as number);
      dfExpected[fi] = (dfExpected[fi] as number) + (dy[yi] as number) * (x[xi] as number);
    });
    const dx = new Float32Array(n.x).fill(Number.NaN);
    const df = new Float32Array(n.filter).fill(Number.NaN);
    native.conv2dBackwardData(g, dy, filter, dx);
    native.conv2dBackwardFilter(g, x, dy, df);
    expect(maxRelativeError(dx, dxExpected)).toBeLessThan(1e-5);
    expect(maxRelativeError(df, dfExpected)).toBeLessThan(1e-5);
  });

  it('match finite differences of L = Σ dy ⊙ conv(x, filter)', () => {
    const g = geometry(1, 6, 5, 2, 3, [3, 3], [2, 1], [1, 1], true);
    const random = makeRandom(7);
    const n = sizes(g);
    const x = filled(n.x, random);
    const filter = filled(n.filter, random);
    const dy = filled(n.y, random);
    const loss = (xs: Float32Array, fs: Float32Array): number => {
      const y = new Float32Array(n.y);
      native.conv2d(g, xs, fs, null, y);
      return y.reduce((sum, v, i) => sum + v * (dy[i] as number), 0);
    };
    const dx = new Float32Array(n.x);
    const df = new Float32Array(n.filter);
    native.conv2dBackwardData(g, dy, filter, dx);
    native.conv2dBackwardFilter(g, x, dy, df);
    const h = 1e-2; // the loss is linear in each argument, so central differences are exact up to rounding
    for (const i of [0, 7, 23, n.x - 1]) {
      const plus = x.slice();
      const minus = x.slice();
      plus[i] = (plus[i] as number) + h;
      minus[i] = (minus[i] as number) - h;
      expect((loss(plus, filter) - loss(minus, filter)) / (2 * h)).toBeCloseTo(dx[i] as number, 3);
    }
    for (const i of [0, 11, n.filter - 1]) {
      const plus = filter.slice();
      const minus = filter.slice();
      plus[i] = (plus[i] as number) + h;
      minus[i] = (minus[i] as number) - h;
      expect((loss(x, plus) - loss(x, minus)) / (2 * h)).toBeCloseTo(df[i] as number, 3);
    }
  });

  it('reads and writes views into a shared buffer, as on the threaded wasm heap', () => {
    const g = geometry(1, 4, 4, 2, 2, [3, 3], [1, 1], [1, 1], true);
    const n = sizes(g);
    const random = makeRandom(3);
    const heap = new Float32Array(new SharedArrayBuffer(4 * (n.x + n.filter + n.y + 8)));
    const x = heap.subarray(3, 3 + n.x);
    const filter = heap.subarray(3 + n.x, 3 + n.x + n.filter);
    const y = heap.subarray(3 + n.x + n.filter, 3 + n.x + n.filter + n.y);
    x.set(filled(n.x, random));
    filter.set(filled(n.filter, random));
    const plain = new Float32Array(n.y);
    native.conv2d(g, x.slice(), filter.slice(), null, plain);
    native.conv2d(g, x, filter, null, y);
    expect(Array.from(y)).toEqual(Array.from(plain));
  });
});

describe('matMul', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('transposeA %s, transposeB %s, with a broadcast operand, equals the direct product', (ta, tb) => {
    const [batch, m, n, k] = [3, 5, 4, 6];
    const random = makeRandom(m * 13 + Number(ta) * 2 + Number(tb));
    const a = filled(batch * m * k, random);
    const b = filled(k * n, random);
    const c = new Float32Array(batch * m * n);
    native.matMul(batch, m, n, k, ta, tb, a, m * k, b, 0, c);
    const expected = new Float64Array(batch * m * n);
    for (let i = 0; i < batch; i++)
      for (let r = 0; r < m; r++)
        for (let col = 0; col < n; col++) {
          let sum = 0;
          for (let j = 0; j < k; j++) {
            const av = a[i * m * k + (ta ? j * m + r : r * k + j)] as number;
            const bv = b[tb ? col * k + j : j * n + col] as number;
            sum += av * bv;
          }
          expected[(i * m + r) * n + col] = sum;
        }
    expect(maxRelativeError(c, expected)).toBeLessThan(1e-6);
  });
});

describe('maxPoolGrad', () => {
  it.each([
    ['2×2 stride 2', geometry(2, 6, 6, 3, 3, [2, 2], [2, 2], [1, 1], false)],
    ['3×3 stride 2 same', geometry(1, 7, 5, 2, 2, [3, 3], [2, 2], [1, 1], true)],
    ['2×2 stride 1', geometry(1, 4, 5, 3, 3, [2, 2], [1, 1], [1, 1], false)],
    ['2×2 stride 2, odd sizes (a last row and column in no window), 20 channels', geometry(2, 7, 5, 20, 20, [2, 2], [2, 2], [1, 1], false)],
    ['2×2 stride 2 same, odd sizes (partial windows)', geometry(1, 5, 5, 3, 3, [2, 2], [2, 2], [1, 1], true)],
  ])('%s: routes each window\'s gradient to its first greatest element', (_name, g) => {
    const random = makeRandom(g.inHeight + g.inWidth);
    const n = sizes(g);
    const x = Float32Array.from({ length: n.x }, () => Math.round(random() * 4) / 4); // ties on purpose
    x[0] = Number.NaN;
    const dy = Float32Array.from({ length: n.y }, (_, i) => i + 1);
    const expected = new Float64Array(n.x);
    const c = g.inChannels;
    for (let b = 0; b < g.batchSize; b++)
      for (let oy = 0; oy < g.outHeight; oy++)
        for (let ox = 0; ox < g.outWidth; ox++)
          for (let ch = 0; ch < c; ch++) {
            let best = Number.NEGATIVE_INFINITY;
            let where = -1;
            for (let ky = 0; ky < g.filterHeight; ky++)
              for (let kx = 0; kx < g.filterWidth; kx++) {
                const iy = oy * g.strideHeight + ky - g.padInfo.top;
                const ix = ox * g.strideWidth + kx - g.padInfo.left;
                if (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth) continue;
                const at = ((b * g.inHeight + iy) * g.inWidth + ix) * c + ch;
                if ((x[at] as number) > best) {
                  best = x[at] as number;
                  where = at;
                }
              }
            if (where >= 0) expected[where] = (expected[where] as number) + (dy[((b * g.outHeight + oy) * g.outWidth + ox) * c + ch] as number);
          }
    const dx = new Float32Array(n.x).fill(Number.NaN);
    native.maxPoolGrad(g, x, dy, dx);
    expect(Array.from(dx)).toEqual(Array.from(expected));
  });

  it('refuses a pool whose output channels differ from its input channels', () => {
    const g = geometry(1, 4, 4, 2, 3, [2, 2], [2, 2], [1, 1], false);
    expect(() => native.maxPoolGrad(g, new Float32Array(32), new Float32Array(12), new Float32Array(32))).toThrow(
      "geometry: a pool's outChannels must equal its inChannels",
    );
  });
});

describe('maxPoolReluGrad', () => {
  // The reference: the two kernels in turn, maxPoolGrad then reluGrad (both tested against direct loops above and below).
  it.each([
    ['2×2 stride 2, relu outputs with NaN, ±0, ±∞ gradients', geometry(2, 6, 8, 5, 5, [2, 2], [2, 2], [1, 1], false), 1],
    ['odd sizes (a last row and column in no window: 0, or NaN where x is NaN), 33 channels', geometry(2, 7, 9, 33, 33, [2, 2], [2, 2], [1, 1], false), 1],
    ['W1 conv1 on threads (above the threading threshold)', geometry(8, 28, 28, 32, 32, [2, 2], [2, 2], [1, 1], false), 2],
    ['odd sizes, 48 channels (whole blocks of 16)', geometry(2, 7, 9, 48, 48, [2, 2], [2, 2], [1, 1], false), 1],
  ])('%s: bit for bit reluGrad(maxPoolGrad(x, dy), x)', (_name, g, threads) => {
    native.setThreads(threads);
    const random = makeRandom(g.inHeight * 7 + g.inChannels);
    const n = sizes(g);
    // x as relu's output: zeros (a window of only zeros routes to its first element), positives, and a few NaN.
    const x = Float32Array.from({ length: n.x }, () => Math.max(0, Math.round(random() * 8) / 4));
    for (let i = 3; i < n.x; i += 97) x[i] = Number.NaN;
    const dy = Float32Array.from({ length: n.y }, () => random() * 4);
    dy[0] = Number.POSITIVE_INFINITY;
    dy[1] = Number.NEGATIVE_INFINITY;
    dy[2] = -0;
    dy[5] = Number.NaN;
    const pooled = new Float32Array(n.x);
    native.maxPoolGrad(g, x, dy, pooled);
    const expected = new Float32Array(n.x);
    native.reluGrad!(pooled, x, expected);
    const dx = new Float32Array(n.x).fill(12345);
    expect(native.maxPoolReluGrad!(g, x, dy, dx)).toBe(true);
    const differing = dx.reduce((count, value, i) => count + (Object.is(value, expected[i]) ? 0 : 1), 0);
    expect(differing).toBe(0);
    expect(expected.some((value) => Number.isNaN(value))).toBe(true);
    native.setThreads(1);
  });

  it('leaves other pools to the caller: returns false and writes nothing', () => {
    const g = geometry(1, 6, 6, 2, 2, [3, 3], [2, 2], [1, 1], true);
    const dx = new Float32Array(72).fill(7);
    expect(native.maxPoolReluGrad!(g, new Float32Array(72), new Float32Array(18), dx)).toBe(false);
    expect(dx.every((value) => value === 7)).toBe(true);
  });
});

describe('maxPoolReluBiasGrad', () => {
  // The reference: maxPoolReluGrad, then sumRows of its result (each tested against the kernels in turn and direct sums).
  it.each([
    // Above 65,536 values the sums run on the threads, each over its own block of pixels.
    ['tiny (one summing thread), NaN in x', geometry(2, 6, 8, 5, 5, [2, 2], [2, 2], [1, 1], false), 2],
    ['odd sizes: a last row and column no window covers, 33 channels', geometry(3, 7, 9, 33, 33, [2, 2], [2, 2], [1, 1], false), 1],
    ['W1 conv1 on two threads (the blocks split between images)', geometry(8, 28, 28, 32, 32, [2, 2], [2, 2], [1, 1], false), 2],
    ['one image on two threads (the blocks split on a window row)', geometry(1, 28, 28, 128, 128, [2, 2], [2, 2], [1, 1], false), 2],
    ['two threads splitting inside an image row (the pass, then the sums)', geometry(3, 7, 9, 1024, 1024, [2, 2], [2, 2], [1, 1], false), 2],
    ['odd height on two threads (rows no window covers inside the blocks)', geometry(2, 9, 8, 512, 512, [2, 2], [2, 2], [1, 1], false), 2],
  ])('%s: bit for bit maxPoolReluGrad and sumRows of its result', (_name, g, threads) => {
    native.setThreads(threads);
    try {
      const random = makeRandom(g.inHeight * 11 + g.inChannels + threads);
      const n = sizes(g);
      const x = Float32Array.from({ length: n.x }, () => Math.max(0, random() * 3 - 1));
      for (let i = 5; i < n.x; i += 211) x[i] = Number.NaN;
      const dy = Float32Array.from({ length: n.y }, () => (random() - 0.5) * 1e3);
      const expected = new Float32Array(n.x);
      expect(native.maxPoolReluGrad!(g, x, dy, expected)).toBe(true);
      const expectedSums = new Float32Array(g.inChannels);
      native.sumRows(expected, n.x / g.inChannels, g.inChannels, expectedSums);
      const dx = new Float32Array(n.x).fill(12345);
      const sums = new Float32Array(g.inChannels).fill(7);
      expect(native.maxPoolReluBiasGrad!(g, x, dy, dx, sums)).toBe(true);
      expect(dx.reduce((count, value, i) => count + (Object.is(value, expected[i]) ? 0 : 1), 0)).toBe(0);
      expect(Array.from(sums).map((v, j) => Object.is(v, expectedSums[j]))).toEqual(Array.from(sums, () => true));
      // NaN in x reaches the sums of its channel (relu's mask keeps NaN), as it reaches sumRows'.
      expect(expectedSums.some((v) => Number.isNaN(v))).toBe(true);
    } finally {
      native.setThreads(1);
    }
  });

  it('leaves other pools to the caller, and checks dbias', () => {
    const g = geometry(1, 6, 6, 2, 2, [3, 3], [2, 2], [1, 1], true);
    const dx = new Float32Array(72).fill(7);
    const sums = new Float32Array(2).fill(7);
    expect(native.maxPoolReluBiasGrad!(g, new Float32Array(72), new Float32Array(18), dx, sums)).toBe(false);
    expect([...dx, ...sums].every((value) => value === 7)).toBe(true);
    const tiled = geometry(1, 4, 4, 2, 2, [2, 2], [2, 2], [1, 1], false);
    expect(() => native.maxPoolReluBiasGrad!(tiled, new Float32Array(32), new Float32Array(8), new Float32Array(32), new Float32Array(1))).toThrow(
      'dbias: expected at least 2 floats, received 1',
    );
  });
});

describe('convReluPool and convReluPoolGrad', () => {
  // The reference: the kernels in turn (conv2d with bias and relu, maxPool; maxPoolReluGrad, conv2dBackwardFilter,
  // sumRows), each tested above against direct sums.
  const poolGeometry = (g: ConvGeometry): ConvGeometry => geometry(g.batchSize, g.outHeight, g.outWidth, g.outChannels, g.outChannels, [2, 2], [2, 2], [1, 1], false);
  it.each([
    ['W1 conv1: 1 → 32 channels, 28×28 same, on two threads', geometry(16, 28, 28, 1, 32, [3, 3], [1, 1], [1, 1], true), 2],
    ['3 → 16 channels, odd output 7×9 (a row and a column no window covers), one thread', geometry(3, 7, 9, 3, 16, [3, 3], [1, 1], [1, 1], true), 1],
    ['2 → 8 channels, 5×5 valid on 12×11', geometry(2, 12, 11, 2, 8, [5, 5], [1, 1], [1, 1], false), 1],
    // The vector tiles take 1 to 4 blocks of 16 output channels (loop counts fixed for 3×3 on 1 and 3 channels, else
    // at run time); 80 channels take the unpadded loops.
    ['4 → 48 channels, 5×5 same on 9×10', geometry(2, 9, 10, 4, 48, [5, 5], [1, 1], [1, 1], true), 1],
    ['1 → 64 channels, 3×3 valid on 10×13 (odd output width)', geometry(3, 10, 13, 1, 64, [3, 3], [1, 1], [1, 1], false), 2],
    ['2 → 80 channels, 3×3 same on 6×6', geometry(2, 6, 6, 2, 80, [3, 3], [1, 1], [1, 1], true), 1],
  ])('%s: the composition of the separate kernels', (_name, g, threads) => {
    native.setThreads(threads);
    try {
      const random = makeRandom(g.inHeight * 13 + g.outChannels);
      const n = sizes(g);
      const p = poolGeometry(g);
      const pooledSize = sizes(p).y;
      const x = Float32Array.from({ length: n.x }, () => random() * 2 - 0.5);
      const filter = Float32Array.from({ length: n.filter }, () => random() - 0.5);
      const bias = Float32Array.from({ length: g.outChannels }, () => random() - 0.6);
      const dpooled = Float32Array.from({ length: pooledSize }, () => random() * 2 - 1);
      // The separate kernels.
      const y = new Float32Array(n.y);
      native.conv2d(g, x, filter, bias, y, 'relu');
      const expectedPooled = new Float32Array(pooledSize);
      native.maxPool!(p, y, expectedPooled);
      const expectedDz = new Float32Array(n.y);
      expect(native.maxPoolReluGrad!(p, y, dpooled, expectedDz)).toBe(true);
      const expectedDfilter = new Float32Array(n.filter);
      native.conv2dBackwardFilter(g, x, expectedDz, expectedDfilter);
      const expectedDbias = new Float32Array(g.outChannels);
      native.sumRows(expectedDz, n.y / g.outChannels, g.outChannels, expectedDbias);
      // The fused kernels.
      const pooled = new Float32Array(pooledSize).fill(Number.NaN);
      native.convReluPool!(g, x, filter, bias, pooled);
      const dfilter = new Float32Array(n.filter).fill(Number.NaN);
      const dbias = new Float32Array(g.outChannels).fill(Number.NaN);
      const dz = new Float32Array(n.y).fill(Number.NaN);
      native.convReluPoolGrad!(g, x, filter, bias, dpooled, dfilter, dbias, dz);
      // The convolution sums in another order than oneDNN's: equal to float32 rounding, the same pool winners.
      expect(maxRelativeError(pooled, expectedPooled)).toBeLessThan(1e-6);
      expect(maxRelativeError(dz, expectedDz)).toBe(0);
      expect(maxRelativeError(dfilter, expectedDfilter)).toBeLessThan(1e-5);
      expect(maxRelativeError(dbias, expectedDbias)).toBeLessThan(1e-5);
      // With a mask: the winners recorded in the forward pass and read in the backward, the same values bit for bit
      // (16 to 64 channels in blocks of 16 and even output sides; elsewhere no mask is written).
      const takesMask = g.outChannels % 16 === 0 && g.outChannels <= 64 && g.outHeight % 2 === 0 && g.outWidth % 2 === 0;
      const mask = new Uint8Array(pooledSize).fill(255);
      const pooledWithMask = new Float32Array(pooledSize);
      expect(native.convReluPool!(g, x, filter, bias, pooledWithMask, mask)).toBe(takesMask);
      expect(Array.from(pooledWithMask)).toEqual(Array.from(pooled));
      if (takesMask) {
        const [dfilterM, dbiasM, dzM] = [new Float32Array(n.filter), new Float32Array(g.outChannels), new Float32Array(n.y)];
        native.convReluPoolGrad!(g, x, filter, bias, dpooled, dfilterM, dbiasM, dzM, mask);
        expect(Array.from(dzM)).toEqual(Array.from(dz));
        expect(Array.from(dfilterM)).toEqual(Array.from(dfilter));
        expect(Array.from(dbiasM)).toEqual(Array.from(dbias));
      } else {
        expect(mask.every((v) => v === 255)).toBe(true);
        expect(() => native.convReluPoolGrad!(g, x, filter, bias, dpooled, new Float32Array(n.filter), null, null, mask)).toThrow('mask: convReluPool writes none for this geometry');
      }
      // Without the optional outputs: the same filter gradient.
      const again = new Float32Array(n.filter);
      native.convReluPoolGrad!(g, x, filter, null, dpooled, again, null, null);
      const noBias = new Float32Array(n.filter);
      const yNoBias = new Float32Array(n.y);
      native.conv2d(g, x, filter, null, yNoBias, 'relu');
      const dzNoBias = new Float32Array(n.y);
      native.maxPoolReluGrad!(p, yNoBias, dpooled, dzNoBias);
      native.conv2dBackwardFilter(g, x, dzNoBias, noBias);
      expect(maxRelativeError(again, noBias)).toBeLessThan(1e-5);
    } finally {
      native.setThreads(1);
    }
  });

  it('reads the winners from the mask with NaN and ±∞ inputs as it finds them again: NaN never wins, a window of NaN passes nothing', () => {
    const g = geometry(2, 8, 10, 1, 32, [3, 3], [1, 1], [1, 1], true);
    const random = makeRandom(99);
    const n = sizes(g);
    const pooledSize = 2 * 4 * 5 * 32;
    const x = Float32Array.from({ length: n.x }, () => random() * 2);
    [3, 17, 18, 19, 27, 28, 29, 90].forEach((i) => (x[i] = Number.NaN));
    x[150] = Number.POSITIVE_INFINITY;
    x[151] = Number.NEGATIVE_INFINITY;
    const filter = Float32Array.from({ length: n.filter }, () => random() - 0.5);
    const bias = Float32Array.from({ length: 32 }, () => random() - 0.6);
    const dpooled = Float32Array.from({ length: pooledSize }, () => random() * 2 - 1);
    dpooled[7] = Number.POSITIVE_INFINITY;
    const run = (mask: Uint8Array | null) => {
      const pooled = new Float32Array(pooledSize);
      native.convReluPool!(g, x, filter, bias, pooled, mask);
      const [dfilter, dbias, dz] = [new Float32Array(n.filter), new Float32Array(32), new Float32Array(n.y)];
      native.convReluPoolGrad!(g, x, filter, bias, dpooled, dfilter, dbias, dz, mask);
      return [pooled, dfilter, dbias, dz].map((a) => Array.from(a));
    };
    const withMask = run(new Uint8Array(pooledSize));
    const without = run(null);
    expect(withMask[0]!.some((v) => v === Number.NEGATIVE_INFINITY)).toBe(true);
    expect(withMask[3]!.some(Number.isNaN)).toBe(true);
    withMask.forEach((values, i) => expect(values, ['pooled', 'dfilter', 'dbias', 'dz'][i]).toEqual(without[i]));
  });

  it('refuses strides, dilations and outputs below 2 × 2, naming the geometry', () => {
    const g2 = geometry(1, 4, 4, 1, 16, [3, 3], [1, 1], [1, 1], true);
    expect(() => native.convReluPool!(g2, new Float32Array(16), new Float32Array(144), null, new Float32Array(64), new Uint8Array(3))).toThrow('mask: expected a Uint8Array of 64 bytes');
    const strided = geometry(1, 8, 8, 1, 4, [3, 3], [2, 2], [1, 1], true);
    const small = geometry(1, 3, 3, 1, 4, [3, 3], [1, 1], [1, 1], false);
    const out = new Float32Array(64);
    expect(() => native.convReluPool!(strided, new Float32Array(64), new Float32Array(36), null, out)).toThrow('geometry: convReluPool takes stride 1 without dilation');
    expect(() => native.convReluPool!(small, new Float32Array(9), new Float32Array(36), null, out)).toThrow('geometry: convReluPool needs an output of at least 2 x 2');
    const g = geometry(1, 4, 4, 1, 4, [3, 3], [1, 1], [1, 1], true);
    expect(() => native.convReluPool!(g, new Float32Array(16), new Float32Array(36), null, new Float32Array(3))).toThrow('pooled: expected at least 16 floats, received 3');
  });
});

describe('sumRows', () => {
  it('sums every row into one, in float64', () => {
    const rows = 1001;
    const cols = 3;
    const x = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) x.set([1, i, 0.1], i * cols);
    const out = new Float32Array(cols);
    native.sumRows(x, rows, cols, out);
    expect(out[0]).toBe(1001);
    expect(out[1]).toBe((1000 * 1001) / 2);
    expect(out[2]).toBeCloseTo(100.1, 3);
  });
});

describe('reluBiasGrad', () => {
  it('is in the addon (built from these sources)', () => {
    expect(native.reluBiasGrad).toBeTypeOf('function');
  });

  // Sizes below and above the threading threshold (65,536 elements), NaN, ±0 and ±∞ among the outputs.
  it.each([
    [37, 5],
    [4096, 32],
  ])('gives reluGrad(dy, y) and the float64 column sums of it, %i rows × %i columns', (rows, cols) => {
    const random = makeRandom(rows * cols);
    const n = rows * cols;
    const dy = filled(n, random);
    const y = Float32Array.from(filled(n, random), (v) => Math.max(v, 0));
    y.set([Number.NaN, -0, 0, Number.POSITIVE_INFINITY, 1e-38], 3);
    dy[n - 1] = Number.NEGATIVE_INFINITY;
    y[n - 1] = 0.5;
    const dx = new Float32Array(n);
    const dbias = new Float32Array(cols);
    native.reluBiasGrad!(dy, y, cols, dx, dbias);
    const expected = new Float32Array(n);
    native.reluGrad!(dy, y, expected);
    expect(Array.from(dx)).toEqual(Array.from(expected));
    expect(dx[3]).toBeNaN();
    expect(Math.abs(dx[4]!)).toBe(0);
    expect(dx[6]).toBe(dy[6]);
    const sums = new Float32Array(cols);
    native.sumRows(dx, rows, cols, sums);
    expect(Array.from(dbias)).toEqual(Array.from(sums));
    for (let j = 0; j < cols; j++) {
      let total = 0;
      for (let i = 0; i < rows; i++) total += dx[i * cols + j]!;
      if (Number.isNaN(total)) expect(dbias[j]).toBeNaN();
      else expect(dbias[j]).toBe(Math.fround(total));
    }
  });

  it('names a short array and columns that do not divide the length', () => {
    const f = (length: number) => new Float32Array(length);
    expect(() => native.reluBiasGrad!(f(12), f(12), 5, f(12), f(5))).toThrow('reluBiasGrad: cols must be positive and divide dy\'s length');
    expect(() => native.reluBiasGrad!(f(12), f(11), 4, f(12), f(4))).toThrow(/y/);
    expect(() => native.reluBiasGrad!(f(12), f(12), 4, f(12), f(3))).toThrow(/dbias/);
  });
});

// 1,003 elements run on the calling thread; 70,003 are split across OpenMP threads (slices of uneven length).
describe.each([1003, 70_003])('adamUpdate and sgdUpdate on %i elements', (n) => {
  const f = Math.fround;
  const random = makeRandom(7 + n);
  const [w, g, m] = [0, 1, 2].map(() => filled(n, random));
  const [v, vMax] = [0, 1].map(() => filled(n, random).map(Math.abs));
  const out = (): Float32Array => new Float32Array(n);
  const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer));

  it('adamUpdate (AMSGrad, L2 term) equals float32 arithmetic step by step, bit for bit', () => {
    const s = Float32Array.from([1, 0.01, 0.9, 0.1, 0.999, 0.001, -0.0123, 0.0447, 1e-8]);
    const [wOut, mOut, vOut, vMaxOut] = [out(), out(), out(), out()];
    native.adamUpdate!(w, g, m, v, vMax, wOut, mOut, vOut, vMaxOut, s, 1 | 4);
    const expected = [out(), out(), out(), out()];
    for (let i = 0; i < n; i++) {
      const grad = f(g[i]! + f(w[i]! * s[1]!));
      const first = f(f(m[i]! * s[2]!) + f(grad * s[3]!));
      const second = f(f(v[i]! * s[4]!) + f(f(grad * s[5]!) * grad));
      const used = Math.max(vMax[i]!, second);
      expected[0]![i] = w[i]! + f(f(first * s[6]!) / f(f(f(Math.sqrt(used)) / s[7]!) + s[8]!));
      [expected[1]![i], expected[2]![i], expected[3]![i]] = [first, second, used];
    }
    [wOut, mOut, vOut, vMaxOut].forEach((actual, at) => expect(bits(actual), `output ${at}`).toEqual(bits(expected[at]!)));
  });

  it('sgdUpdate (Nesterov momentum, L2 term) equals float32 arithmetic step by step, bit for bit', () => {
    const s = Float32Array.from([5e-4, 0.9, 1, -0.1]);
    const [wOut, bOut] = [out(), out()];
    native.sgdUpdate!(w, g, m, wOut, bOut, s, 1 | 2 | 4);
    const expected = [out(), out()];
    for (let i = 0; i < n; i++) {
      const direction = f(g[i]! + f(w[i]! * s[0]!));
      const buffer = f(f(m[i]! * s[1]!) + f(direction * s[2]!));
      expected[0]![i] = w[i]! + f(f(direction + f(buffer * s[1]!)) * s[3]!);
      expected[1]![i] = buffer;
    }
    expect(bits(wOut)).toEqual(bits(expected[0]!));
    expect(bits(bOut)).toEqual(bits(expected[1]!));
  });

  it('update in place (each output its input) with the bits of the update into new arrays', () => {
    const adam = Float32Array.from([0.9995, 0, 0.9, 0.1, 0.999, 0.001, -0.0123, 0.0447, 1e-8]);
    const fresh = [out(), out(), out(), out()];
    native.adamUpdate!(w, g, m, v, vMax, fresh[0]!, fresh[1]!, fresh[2]!, fresh[3]!, adam, 1 | 2);
    const state = [w, m, v, vMax].map((a) => a.slice());
    native.adamUpdate!(state[0]!, g, state[1]!, state[2]!, state[3]!, state[0]!, state[1]!, state[2]!, state[3]!, adam, 1 | 2);
    state.forEach((actual, at) => expect(bits(actual), `adam output ${at}`).toEqual(bits(fresh[at]!)));
    const sgd = Float32Array.from([5e-4, 0.9, 0.8, -0.1]);
    const [wOut, bOut] = [out(), out()];
    native.sgdUpdate!(w, g, m, wOut, bOut, sgd, 1 | 2);
    const [wIn, bIn] = [w.slice(), m.slice()];
    native.sgdUpdate!(wIn, g, bIn, wIn, bIn, sgd, 1 | 2);
    expect(bits(wIn)).toEqual(bits(wOut));
    expect(bits(bIn)).toEqual(bits(bOut));
  });

  it('is in the addon (built from these sources)', () => {
    expect(typeof native.adamUpdate).toBe('function');
    expect(typeof native.sgdUpdate).toBe('function');
  });

  it('names a short array and a bad flag', () => {
    const s = new Float32Array(4);
    expect(() => native.sgdUpdate!(w, g, null, new Float32Array(3), null, s, 0)).toThrow(`wOut: expected at least ${n} floats, received 3`);
    expect(() => native.sgdUpdate!(w, g, null, out(), null, s, 9)).toThrow('flags: expected an integer in [0, 7], received 9');
  });
});

/** A float32 value rounded to bfloat16 (round to nearest, ties to even), as oneDNN's f32 → bf16 conversion does. */
function toBf16(values: Float32Array): Float32Array {
  const out = Float32Array.from(values);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const v = bits[i] as number;
    bits[i] = ((v + 0x7fff + ((v >>> 16) & 1)) & 0xffff0000) >>> 0;
  }
  return out;
}

describe('setPrecision: bf16 convolutions', () => {
  const bf16Cpu = ['avx512_core_bf16', 'avx512_core_amx'].includes(native.info().cpuIsa);

  it('defaults to f32, and refuses an unknown precision naming the value', () => {
    expect(native.getPrecision?.()).toBe('f32');
    expect(() => native.setPrecision?.('fp16' as 'bf16')).toThrow("precision must be 'f32' or 'bf16' (received fp16)");
  });

  it(`runs the three passes on bf16-rounded inputs with float32 sums where the CPU has bf16 (this CPU: ${native.info().cpuIsa}), and refuses where it has not`, () => {
    if (!bf16Cpu) {
      expect(() => native.setPrecision?.('bf16')).toThrow("precision 'bf16' needs a CPU with bf16 instructions");
      expect(native.getPrecision?.()).toBe('f32');
      return;
    }
    // 32 → 64 channels: a shape oneDNN has bf16 kernels for (a convolution without one stays f32).
    const g = geometry(2, 9, 8, 32, 64, [3, 3], [1, 1], [1, 1], true);
    const random = makeRandom(99);
    const n = sizes(g);
    const [x, filter, dy] = [filled(n.x, random), filled(n.filter, random), filled(n.y, random)];
    const [xb, fb, dyb] = [toBf16(x), toBf16(filter), toBf16(dy)];
    const y = new Float64Array(n.y);
    const dx = new Float64Array(n.x);
    const df = new Float64Array(n.filter);
    eachTap(g, (xi, fi, yi) => {
      y[yi] = (y[yi] as number) + (xb[xi] as number) * (fb[fi] as number);
      dx[xi] = (dx[xi] as number) + (dyb[yi] as number) * (fb[fi] as number);
      df[fi] = (df[fi] as number) + (dyb[yi] as number) * (xb[xi] as number);
    });
    const run = (): Float32Array[] => {
      const out = [new Float32Array(n.y), new Float32Array(n.x), new Float32Array(n.filter)] as const;
      native.conv2d(g, x, filter, null, out[0]);
      native.conv2dBackwardData(g, dy, filter, out[1]);
      native.conv2dBackwardFilter(g, x, dy, out[2]);
      return [...out];
    };
    const f32 = run();
    native.setPrecision!('bf16');
    try {
      expect(native.getPrecision!()).toBe('bf16');
      const low = run();
      (['fwd', 'bwd_data', 'bwd_weights'] as const).forEach((pass) => expect(native.implementation(pass, g), pass).toMatch(/bf16/));
      // Products of the bf16-rounded values, summed in float32: equal to the float64 sums to float32 rounding.
      expect(maxRelativeError(low[0]!, y)).toBeLessThan(1e-5);
      expect(maxRelativeError(low[1]!, dx)).toBeLessThan(1e-5);
      expect(maxRelativeError(low[2]!, df)).toBeLessThan(1e-5);
      // …and not the float32 results (which round nothing): the rounding is what bf16 costs, ~3 significant digits.
      [0, 1, 2].forEach((i) => {
        const error = maxRelativeError(low[i]!, f32[i]!);
        expect(error).toBeGreaterThan(1e-4);
        expect(error).toBeLessThan(2e-2);
      });
    } finally {
      native.setPrecision!('f32');
    }
    expect(maxRelativeError(run()[0]!, f32[0]!)).toBe(0);
  });
});

describe('setConvAlgorithm: Winograd convolutions', () => {
  const avx512 = native.info().cpuIsa.startsWith('avx512');
  const references = (g: ConvGeometry, x: Float32Array, filter: Float32Array, bias: Float32Array, dy: Float32Array) => {
    const n = sizes(g);
    const y = new Float64Array(n.y);
    const dx = new Float64Array(n.x);
    const df = new Float64Array(n.filter);
    eachTap(g, (xi, fi, yi) => {
      y[yi] = (y[yi] as number) + (x[xi] as number) * (filter[fi] as number);
      dx[xi] = (dx[xi] as number) + (dy[yi] as number) * (filter[fi] as number);
      df[fi] = (df[fi] as number) + (dy[yi] as number) * (x[xi] as number);
    });
    // relu(conv + bias), the forward pass the layers run fused.
    for (let i = 0; i < y.length; i++) y[i] = Math.max(0, (y[i] as number) + (bias[i % g.outChannels] as number));
    return [y, dx, df] as const;
  };
  const run = (g: ConvGeometry, x: Float32Array, filter: Float32Array, bias: Float32Array, dy: Float32Array): Float32Array[] => {
    const n = sizes(g);
    const out = [new Float32Array(n.y), new Float32Array(n.x), new Float32Array(n.filter)] as const;
    native.conv2d(g, x, filter, bias, out[0], 'relu');
    native.conv2dBackwardData(g, dy, filter, out[1]);
    native.conv2dBackwardFilter(g, x, dy, out[2]);
    return [...out];
  };
  const withAlgorithm = <T>(algorithm: 'auto' | 'direct' | 'winograd', body: () => T): T => {
    native.setConvAlgorithm!(algorithm);
    try {
      return body();
    } finally {
      native.setConvAlgorithm!('auto');
    }
  };
  const passes = ['fwd', 'bwd_data', 'bwd_weights'] as const;

  it("defaults to 'auto', and refuses an unknown algorithm naming the value", () => {
    expect(native.getConvAlgorithm?.()).toBe('auto');
    expect(() => native.setConvAlgorithm?.('fft' as 'auto')).toThrow("algorithm must be one of 'auto', 'direct', 'winograd' (received fft)");
    expect(native.getConvAlgorithm?.()).toBe('auto');
  });

  it(`runs the three passes of a 32 → 64 channel 3×3 convolution on 8×12 with Winograd under 'auto' where the CPU has AVX-512 (this CPU: ${native.info().cpuIsa}), to float32 accuracy`, () => {
    const g = geometry(2, 8, 12, 32, 64, [3, 3], [1, 1], [1, 1], true);
    const random = makeRandom(7);
    const n = sizes(g);
    const [x, filter, bias, dy] = [filled(n.x, random), filled(n.filter, random), filled(64, random), filled(n.y, random)];
    const expected = references(g, x, filter, bias, dy);
    const direct = withAlgorithm('direct', () => {
      passes.forEach((pass) => expect(native.implementation(pass, g), pass).not.toMatch(/wino/));
      return run(g, x, filter, bias, dy);
    });
    const auto = run(g, x, filter, bias, dy);
    passes.forEach((pass) => expect(native.implementation(pass, g), pass).toMatch(avx512 ? /wino/ : /^(?!.*wino)/));
    [0, 1, 2].forEach((i) => {
      expect(maxRelativeError(direct[i]!, expected[i]!), `direct pass ${i}`).toBeLessThan(1e-6);
      // Winograd's transforms round more than the direct sums do, still at float32's scale.
      expect(maxRelativeError(auto[i]!, expected[i]!), `winograd pass ${i}`).toBeLessThan(5e-6);
      // A different algorithm: not the direct results bit for bit (where it ran).
      if (avx512) expect(maxRelativeError(auto[i]!, direct[i]!), `pass ${i}`).toBeGreaterThan(0);
      else expect(maxRelativeError(auto[i]!, direct[i]!), `pass ${i}`).toBe(0);
    });
  });

  it("keeps the direct algorithm under 'auto' for shapes Winograd does not speed up, and 'winograd' takes them where oneDNN can", () => {
    const random = makeRandom(8);
    // 14×14 outputs (4×4 tiles over 16×16), 32 → 32 channels (c·oc / (c + oc) = 16, below 20) and 16 input channels:
    // direct under 'auto'.
    const shapes = [geometry(1, 14, 14, 32, 64, [3, 3], [1, 1], [1, 1], true), geometry(1, 8, 8, 32, 32, [3, 3], [1, 1], [1, 1], true), geometry(1, 8, 8, 16, 64, [3, 3], [1, 1], [1, 1], true)];
    for (const g of shapes) {
      const n = sizes(g);
      const [x, filter, bias, dy] = [filled(n.x, random), filled(n.filter, random), filled(g.outChannels, random), filled(n.y, random)];
      const expected = references(g, x, filter, bias, dy);
      const auto = run(g, x, filter, bias, dy);
      passes.forEach((pass) => expect(native.implementation(pass, g), pass).not.toMatch(/wino/));
      const forced = withAlgorithm('winograd', () => {
        passes.forEach((pass) => expect(native.implementation(pass, g), pass).toMatch(avx512 ? /wino/ : /^(?!.*wino)/));
        return run(g, x, filter, bias, dy);
      });
      [0, 1, 2].forEach((i) => {
        expect(maxRelativeError(auto[i]!, expected[i]!)).toBeLessThan(1e-6);
        expect(maxRelativeError(forced[i]!, expected[i]!)).toBeLessThan(5e-6);
      });
    }
    // Strided, 1×1 and 3-channel convolutions never run Winograd.
    withAlgorithm('winograd', () => {
      for (const g of [geometry(1, 8, 8, 32, 32, [3, 3], [2, 2], [1, 1], true), geometry(1, 8, 8, 32, 32, [1, 1], [1, 1], [1, 1], true), geometry(1, 8, 8, 3, 32, [3, 3], [1, 1], [1, 1], true)]) {
        passes.forEach((pass) => expect(native.implementation(pass, g), pass).not.toMatch(/wino/));
      }
    });
  });
});

describe('blocked: Winograd convolution, relu and 2×2 pool in nChw16c', () => {
  const avx512 = native.info().cpuIsa.startsWith('avx512');
  /** The index in a blocked activation [n, oc/16, oh, ow, 16] of NHWC element (b, y, x, channel). */
  const blockedIndex = (g: ConvGeometry, b: number, y: number, x: number, channel: number): number =>
    (((b * (g.outChannels / 16) + Math.floor(channel / 16)) * g.outHeight + y) * g.outWidth + x) * 16 + (channel % 16);
  const toNhwc = (g: ConvGeometry, blocked: Float32Array): Float32Array => {
    const out = new Float32Array(blocked.length);
    for (let b = 0; b < g.batchSize; b++)
      for (let y = 0; y < g.outHeight; y++)
        for (let x = 0; x < g.outWidth; x++)
          for (let c = 0; c < g.outChannels; c++) out[((b * g.outHeight + y) * g.outWidth + x) * g.outChannels + c] = blocked[blockedIndex(g, b, y, x, c)]!;
    return out;
  };
  const relu = (v: number): number => (v > 0 || Number.isNaN(v) ? v : 0);

  it(`takes 32 → 48 channels, 3×3 same on 9×13 (odd output sides) where the CPU has AVX-512 (this CPU: ${native.info().cpuIsa}): the convolution, the pool and every gradient against float64 references`, () => {
    const g = geometry(2, 9, 13, 32, 48, [3, 3], [1, 1], [1, 1], true);
    const blocked = native.blocked!;
    expect(blocked.fits(g)).toBe(avx512);
    if (!avx512) {
      expect(() => blocked.conv(g, new Float32Array(sizes(g).x), new Float32Array(sizes(g).filter), null, new Float32Array(sizes(g).y))).toThrow('does not take the blocked path');
      return;
    }
    const random = makeRandom(41);
    const n = sizes(g);
    const [ph, pw] = [Math.floor(g.outHeight / 2), Math.floor(g.outWidth / 2)];
    const [x, filter, bias, dpooled] = [filled(n.x, random), filled(n.filter, random), filled(48, random), filled(2 * ph * pw * 48, random)];
    const z = new Float64Array(n.y);
    eachTap(g, (xi, fi, yi) => (z[yi] = (z[yi] as number) + (x[xi] as number) * (filter[fi] as number)));
    for (let i = 0; i < z.length; i++) z[i] = (z[i] as number) + (bias[i % 48] as number);
    const y = new Float32Array(n.y);
    blocked.conv(g, x, filter, bias, y);
    expect(maxRelativeError(toNhwc(g, y), z)).toBeLessThan(5e-6);
    // The pool of relu(y), and its gradient, from y itself (exact: the same comparisons).
    const pooled = new Float32Array(2 * ph * pw * 48);
    blocked.reluPool(g, y, pooled);
    const expectedPooled = new Float32Array(pooled.length);
    const dz = new Float32Array(n.y);
    for (let b = 0; b < 2; b++)
      for (let py = 0; py < ph; py++)
        for (let px = 0; px < pw; px++)
          for (let c = 0; c < 48; c++) {
            let best = -Infinity;
            let at = -1;
            for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
              const v = relu(y[blockedIndex(g, b, 2 * py + dy, 2 * px + dx, c)]!);
              if (v > best) [best, at] = [v, blockedIndex(g, b, 2 * py + dy, 2 * px + dx, c)];
            }
            const k = ((b * ph + py) * pw + px) * 48 + c;
            expectedPooled[k] = best;
            // maxPoolReluGrad's values: the winner's gradient times relu's mask (−0 for a negative one times 0).
            dz[at] = dpooled[k]! * (best > 0 ? 1 : 0);
          }
    expect(Array.from(pooled)).toEqual(Array.from(expectedPooled));
    const dy = new Float32Array(n.y);
    const dbias = new Float32Array(48);
    blocked.reluPoolGrad(g, y, dpooled, dy, dbias);
    expect(Array.from(dy)).toEqual(Array.from(dz));
    const dzNhwc = toNhwc(g, dz);
    const expectedBias = new Float64Array(48);
    dzNhwc.forEach((v, i) => (expectedBias[i % 48] = (expectedBias[i % 48] as number) + v));
    expect(maxRelativeError(dbias, expectedBias)).toBeLessThan(1e-6);
    // The convolution's gradients from the blocked dy, against float64 sums over the NHWC one.
    const dxExpected = new Float64Array(n.x);
    const dfExpected = new Float64Array(n.filter);
    eachTap(g, (xi, fi, yi) => {
      dxExpected[xi] = (dxExpected[xi] as number) + (dzNhwc[yi] as number) * (filter[fi] as number);
      dfExpected[fi] = (dfExpected[fi] as number) + (dzNhwc[yi] as number) * (x[xi] as number);
    });
    const [dx, dfilter] = [new Float32Array(n.x), new Float32Array(n.filter)];
    blocked.backwardData(g, dy, filter, dx);
    blocked.backwardFilter(g, x, dy, dfilter);
    expect(maxRelativeError(dx, dxExpected)).toBeLessThan(5e-6);
    expect(maxRelativeError(dfilter, dfExpected)).toBeLessThan(5e-6);
  });

  it('keeps NaN through relu, never lets it win a window, and passes it into the gradient as maxPoolReluGrad does', () => {
    const g = geometry(1, 4, 4, 32, 32, [3, 3], [1, 1], [1, 1], true);
    const y = new Float32Array(sizes(g).y).fill(-1);
    // Channel 3: one NaN in the first window (the others −1 → relu 0, 0 wins); channel 5: every value of the first
    // window NaN (no winner: −∞); channel 7: 2 and a NaN (2 wins).
    y[blockedIndex(g, 0, 0, 1, 3)] = Number.NaN;
    for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]]) y[blockedIndex(g, 0, a!, b!, 5)] = Number.NaN;
    y[blockedIndex(g, 0, 1, 1, 7)] = 2;
    y[blockedIndex(g, 0, 0, 0, 7)] = Number.NaN;
    const pooled = new Float32Array(2 * 2 * 32);
    native.blocked!.reluPool(g, y, pooled);
    expect([pooled[3], pooled[5], pooled[7], pooled[8]]).toEqual([0, -Infinity, 2, 0]);
    const dpooled = new Float32Array(pooled.length).fill(1);
    const dy = new Float32Array(y.length);
    const dbias = new Float32Array(32);
    native.blocked!.reluPoolGrad(g, y, dpooled, dy, dbias);
    // NaN where y is NaN (0 · NaN), 2's gradient where it won, 0 for the relu-clipped winners.
    expect(Number.isNaN(dy[blockedIndex(g, 0, 0, 1, 3)]!)).toBe(true);
    expect(dy[blockedIndex(g, 0, 0, 0, 3)]).toBe(0);
    expect(dy[blockedIndex(g, 0, 1, 1, 7)]).toBe(1);
    expect([3, 5, 7].map((c) => Number.isNaN(dbias[c]!))).toEqual([true, true, true]);
    expect(dbias[8]).toBe(0);
  });

  it("refuses what it does not take: 16 input channels or 'direct' under the settings, strides, other channel counts, naming the geometry", () => {
    const blocked = native.blocked!;
    expect(blocked.fits(geometry(1, 8, 8, 16, 64, [3, 3], [1, 1], [1, 1], true))).toBe(false);
    expect(blocked.fits(geometry(1, 8, 8, 32, 24, [3, 3], [1, 1], [1, 1], true))).toBe(false);
    expect(blocked.fits(geometry(1, 8, 8, 32, 32, [3, 3], [2, 2], [1, 1], true))).toBe(false);
    expect(blocked.fits(geometry(1, 8, 8, 32, 32, [5, 5], [1, 1], [1, 1], true))).toBe(false);
    const g = geometry(1, 8, 8, 32, 32, [3, 3], [1, 1], [1, 1], true);
    native.setConvAlgorithm!('direct');
    try {
      expect(blocked.fits(g)).toBe(false);
      expect(() => blocked.conv(g, new Float32Array(sizes(g).x), new Float32Array(sizes(g).filter), null, new Float32Array(sizes(g).y))).toThrow(
        'geometry: this convolution does not take the blocked path (see blockedConvFits)',
      );
    } finally {
      native.setConvAlgorithm!('auto');
    }
    expect(() => blocked.reluPool(geometry(1, 8, 8, 32, 24, [3, 3], [1, 1], [1, 1], true), new Float32Array(8 * 8 * 24), new Float32Array(4 * 4 * 24))).toThrow(
      'geometry: blocked pools take output channels in multiples of 16',
    );
    expect(() => blocked.reluPool(g, new Float32Array(10), new Float32Array(4 * 4 * 32))).toThrow('y: expected at least 2048 floats, received 10');
  });
});

/**
 * tf.image.transform's definition in float32 arithmetic, every operation rounded as tfjs-backend-wasm's C++ rounds it
 * (Math.fround after each): the reference for transformImages, written per channel as the definition reads.
 */
function transformReference(
  image: Float32Array,
  [batch, h, w, ch]: [number, number, number, number],
  maps: Float32Array,
  perImage: boolean,
  oh: number,
  ow: number,
  interpolation: 'bilinear' | 'nearest',
  fillMode: 'constant' | 'nearest',
  fill: number,
): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(batch * oh * ow * ch);
  const read = (b: number, y: number, x: number, c: number): number => (y >= 0 && y < h && x >= 0 && x < w ? image[((b * h + y) * w + x) * ch + c]! : f(fill));
  for (let b = 0; b < batch; b++) {
    const t = Array.from(maps.subarray(perImage ? b * 8 : 0, (perImage ? b * 8 : 0) + 8));
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let c = 0; c < ch; c++) {
          const k = f(f(f(t[6]! * ox) + f(t[7]! * oy)) + 1);
          let value: number;
          if (k === 0) value = f(fill);
          else {
            let x = f(f(f(f(t[0]! * ox) + f(t[1]! * oy)) + t[2]!) / k);
            let y = f(f(f(f(t[3]! * ox) + f(t[4]! * oy)) + t[5]!) / k);
            if (fillMode === 'nearest') {
              x = Math.max(0, Math.min(x, w - 1));
              y = Math.max(0, Math.min(y, h - 1));
            }
            if (interpolation === 'nearest') {
              const round = (v: number): number => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
              value = read(b, round(y), round(x), c);
            } else {
              const [y0, x0] = [Math.floor(y), Math.floor(x)];
              const [wx0, wx1, wy0, wy1] = [f(x0 + 1 - x), f(x - x0), f(y0 + 1 - y), f(y - y0)];
              const top = f(f(wx0 * read(b, y0, x0, c)) + f(wx1 * read(b, y0, x0 + 1, c)));
              const bottom = f(f(wx0 * read(b, y0 + 1, x0, c)) + f(wx1 * read(b, y0 + 1, x0 + 1, c)));
              value = f(f(wy0 * top) + f(wy1 * bottom));
            }
          }
          out[((b * oh + oy) * ow + ox) * ch + c] = value;
        }
      }
    }
  }
  return out;
}

describe('transformImages: tf.image.transform', () => {
  const random = makeRandom(31);
  it.each([
    ['bilinear, constant, one map per image', [3, 9, 11, 3], true, 9, 11, 'bilinear', 'constant', 0, false],
    ['bilinear, constant fill 5, projective, one map for all, larger output', [2, 7, 6, 2], false, 10, 8, 'bilinear', 'constant', 5, true],
    ['bilinear, nearest edge', [2, 8, 8, 4], true, 8, 8, 'bilinear', 'nearest', 0, true],
    ['nearest, constant', [2, 6, 9, 1], true, 5, 9, 'nearest', 'constant', -2, false],
  ] as const)('%s: bit for bit the float32 definition', (_name, shape, perImage, oh, ow, interpolation, fillMode, fill, projective) => {
    const image = filled(shape[0] * shape[1] * shape[2] * shape[3], () => Math.round(random() * 1000) / 4);
    const maps = new Float32Array((perImage ? shape[0] : 1) * 8);
    for (let i = 0; i < maps.length / 8; i++) {
      const angle = random();
      const scale = 1 + random() / 2;
      const [cos, sin] = [Math.cos(angle) / scale, Math.sin(angle) / scale];
      maps.set([cos, sin, random() * 4 + 1, -sin, cos, random() * 4 + 1, projective ? random() / 50 : 0, projective ? random() / 50 : 0], i * 8);
    }
    const out = new Float32Array(shape[0] * oh * ow * shape[3]);
    native.transformImages!(image, shape as unknown as [number, number, number, number], maps, { outHeight: oh, outWidth: ow, interpolation, fillMode, fillValue: fill, perImage }, out);
    const expected = transformReference(image, shape as unknown as [number, number, number, number], maps, perImage, oh, ow, interpolation, fillMode, fill);
    expect(Array.from(out)).toEqual(Array.from(expected));
    expect(new Set(out).size).toBeGreaterThan(shape[3] + 1);
  });

  it('names the argument, the value and what was expected', () => {
    const image = new Float32Array(2 * 3 * 3 * 1);
    const maps = new Float32Array(16);
    const out = new Float32Array(18);
    const call = (shape: readonly number[], options: object, m = maps, o = out): void =>
      native.transformImages!(image, shape as [number, number, number, number], m, options, o);
    expect(() => call([2, 3, 3], {})).toThrow('transformImages: shape must be [batch, height, width, channels] (received [2,3,3])');
    expect(() => call([2, 0, 3, 1], {})).toThrow('transformImages: shape[1] must be a positive integer (received 0)');
    expect(() => call([2, 3, 3, 1], { outWidth: 2.5 })).toThrow('transformImages: options.outWidth must be a positive integer (received 2.5)');
    expect(() => call([2, 3, 3, 1], { interpolation: 'bicubic' })).toThrow("transformImages: options.interpolation must be 'bilinear' or 'nearest' (received bicubic)");
    expect(() => call([2, 3, 3, 1], { fillMode: 'wrap' })).toThrow("transformImages: options.fillMode must be 'constant' or 'nearest' (received wrap)");
    expect(() => call([2, 3, 3, 1], { fillValue: Number.NaN })).toThrow('transformImages: options.fillValue must be a number (received NaN)');
    expect(() => call([2, 3, 3, 1], {}, new Float32Array(8))).toThrow('transforms: expected at least 16 floats, received 8');
    expect(() => call([2, 3, 3, 1], {}, maps, new Float32Array(17))).toThrow('out: expected at least 18 floats, received 17');
    expect(() => call([3, 3, 3, 1], { perImage: false }, maps, new Float32Array(27))).toThrow('image: expected at least 27 floats, received 18');
  });
});

describe('status and errors', () => {
  it('reports oneDNN, its instruction set and its threads', () => {
    const status = nativeStatus();
    expect(status.available).toBe(true);
    if (status.available) {
      expect(status.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(status.threads).toBeGreaterThanOrEqual(1);
    }
    native.setThreads(1);
    expect(native.getThreads()).toBe(1);
    native.setThreads(2);
    expect(native.getThreads()).toBe(2);
    expect(() => native.setThreads(0)).toThrow('threads must be a positive integer (received 0)');
  });

  it('names the argument, the value and what was expected', () => {
    const g = geometry(1, 4, 4, 1, 1, [3, 3], [1, 1], [1, 1], true);
    expect(() => packGeometry({ ...g, strideHeight: 0 })).toThrow('geometry.strideHeight must be a positive integer (received 0)');
    expect(() => packGeometry({ ...g, outHeight: 5 })).toThrow('geometry.outHeight is 5 but inHeight 4');
    expect(geometryProblem({ ...g, padInfo: { ...g.padInfo, left: 0.5 } })).toBe('geometry.padInfo.left must be an integer (received 0.5)');
    expect(geometryProblem(g)).toBeUndefined();
    const y = new Float32Array(16);
    expect(() => native.conv2d(g, new Float32Array(15), new Float32Array(9), null, y)).toThrow('x: expected at least 16 floats, received 15');
    expect(() => native.conv2d(g, new Float32Array(16), new Float32Array(9), null, y, 'swish' as FusedActivation)).toThrow("activation must be one of linear, relu, relu6, leakyrelu, elu, sigmoid (received 'swish')");
    expect(() => native.matMul(1, 2, 2, 2, false, false, new Float64Array(4) as unknown as Float32Array, 0, new Float32Array(4), 0, new Float32Array(4))).toThrow('a: expected a Float32Array');
    expect(() => native.matMul(2, 2, 2, 2, false, false, new Float32Array(4), -4, new Float32Array(4), 0, new Float32Array(8))).toThrow('aStride and bStride must be at least 0');
  });
});
