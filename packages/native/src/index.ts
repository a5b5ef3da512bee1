// @convkit/native: oneDNN's CPU convolutions and matrix products on Float32Arrays, through a Node-API addon built
// at install time. @convkit/core loads it when present and registers it as wasm kernels; nothing here depends on
// tfjs, so the functions work on any Float32Array (views of the wasm heap included, shared or not).
import { createRequire } from 'node:module';

/**
 * The geometry of a 2-D NHWC convolution with an HWIO filter. The field names are tfjs's `Conv2DInfo`
 * (`tf.backend_util.computeConv2DInfo`), so that object can be passed as it is.
 */
export interface ConvGeometry {
  /** Images in the batch (N). */
  batchSize: number;
  /** Input height (H). */
  inHeight: number;
  /** Input width (W). */
  inWidth: number;
  /** Input channels (C). */
  inChannels: number;
  /** Output channels: the filter's last dimension (for a pool, `inChannels`). */
  outChannels: number;
  /** Filter (or pool window) height. */
  filterHeight: number;
  /** Filter (or pool window) width. */
  filterWidth: number;
  /** Output height. */
  outHeight: number;
  /** Output width. */
  outWidth: number;
  /** Vertical stride. */
  strideHeight: number;
  /** Horizontal stride. */
  strideWidth: number;
  /** Vertical dilation (1: none). */
  dilationHeight: number;
  /** Horizontal dilation (1: none). */
  dilationWidth: number;
  /** Implicit zero padding on each side; the bottom and right pads may be negative (rows a stride skips). */
  padInfo: { top: number; left: number; bottom: number; right: number };
}

/** The activations {@link NativeKernels.conv2d} fuses into the convolution, by tfjs's names. */
export const FUSED_ACTIVATIONS: Readonly<Record<'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'elu' | 'sigmoid', number>> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 3,
  elu: 4,
  sigmoid: 5,
};

/** A name of {@link FUSED_ACTIVATIONS}. */
export type FusedActivation = keyof typeof FUSED_ACTIVATIONS;

/** The settings of {@link NativeKernels.setConvAlgorithm}: which float32 convolutions run with Winograd. */
export const CONV_ALGORITHMS = ['auto', 'direct', 'winograd'] as const;
/** One of {@link CONV_ALGORITHMS}. */
export type ConvAlgorithm = (typeof CONV_ALGORITHMS)[number];

/** An RGB image decoded by {@link NativeKernels.decodeJpeg}: `height × width × 3` bytes, row by row. */
export interface DecodedJpeg {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** Options of {@link NativeKernels.decodeJpeg}. */
export interface DecodeJpegOptions {
  /**
   * Decode at `scale`/8 of the full size (1 to 8; libjpeg's DCT scaling: an 8×8 block becomes `scale × scale`, so
   * the size is `ceil(width · scale / 8)`). 8, 4, 2 and 1 have SIMD inverse DCTs; the others are slower than 8.
   * `'fit'` (with `resize`): the smallest of 1, 2 and 4 whose size still covers the resize in both dimensions, else 8,
   * chosen from the file's header. Defaults to 8.
   */
  scale?: number | 'fit';
  /**
   * Reject a JPEG that embeds an ICC profile (APP2 `ICC_PROFILE`), whose colours are only right after a conversion
   * through the profile, which this decoder does not do (sharp does). Defaults to false.
   */
  refuseIccProfile?: boolean;
  /**
   * Resample the (scaled) image through this inverse affine map, as `@convkit/augment`'s `warpAffine` does (the
   * output pixel centre `(u + ½, v + ½)` reads `M·(u + ½, v + ½, 1)` bilinearly; outside the image reads `fill`,
   * default 0), and decode only the rows and columns it reads. The result is `width × height`.
   */
  warp?: { matrix: readonly number[]; width: number; height: number; fill?: number };
  /**
   * Resize the (scaled) image to `width × height` with an antialiased bilinear filter (a triangle widened by the
   * reduction factor, the rule of PIL's bilinear resize and torchvision's `antialias=True`). Not with `warp`.
   */
  resize?: { width: number; height: number };
  /**
   * With `into`: map each pixel through this affine colour map before writing it, in `@convkit/augment`'s
   * `colorJitter` arithmetic: `v = matrix·rgb + (greyGain · meanGrey + offset)` per channel, where `meanGrey` is the
   * image's mean of 0.299 R + 0.587 G + 0.114 B (computed only when a gain is not 0), then clamped to [0, 255] and
   * truncated (put the rounding's ½ in `offset`).
   */
  color?: { matrix: readonly number[]; offset: readonly number[]; greyGain: readonly number[] };
  /**
   * Write the result as float32 values `byte × scale` (default 1) into `out` from `offset` (default 0) instead of
   * returning bytes: the resolved image then has an empty `data`. Needs `warp` or `resize` (the size must be known).
   */
  into?: { out: Float32Array; offset?: number; scale?: number };
}

/** Options of {@link NativeKernels.transformImages}. */
export interface TransformImagesOptions {
  /** The output's height and width. Defaults to the input's. */
  outHeight?: number;
  outWidth?: number;
  /** `'bilinear'` (default) or `'nearest'`. */
  interpolation?: 'bilinear' | 'nearest';
  /** How points outside the input read: `'constant'` (`fillValue`, the default) or `'nearest'` (the closest edge pixel). */
  fillMode?: 'constant' | 'nearest';
  /** The value of points outside the input with `'constant'`. Defaults to 0. */
  fillValue?: number;
  /** Whether `transforms` holds one map per image (default) or one for the whole batch. */
  perImage?: boolean;
}

/** The addon's functions. Arrays are read and written in place; every call is synchronous. */
export interface NativeKernels {
  /** `y = activation(conv(x, filter) + bias)`; x NHWC, filter HWIO, bias `[outChannels]` or null, y NHWC. */
  conv2d(
    geometry: ConvGeometry,
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    activation?: FusedActivation,
    leakyreluAlpha?: number,
  ): void;
  /** `dx`: the gradient of the convolution with respect to its input, from `dy` and the filter. */
  conv2dBackwardData(geometry: ConvGeometry, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  /** `dfilter` (HWIO): the gradient of the convolution with respect to its filter, from `x` and `dy`. */
  conv2dBackwardFilter(geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dfilter: Float32Array): void;
  /**
   * `c[i] = op(a[i]) · op(b[i])` for `i < batch`, row-major, with `op` a transpose where asked. `a[i]` starts at
   * `i · aStride` (0 broadcasts one matrix to every batch), likewise `b[i]`; `c` is `batch × m × n`.
   */
  matMul(
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    a: Float32Array,
    aStride: number,
    b: Float32Array,
    bStride: number,
    c: Float32Array,
  ): void;
  /**
   * The max-pool gradient: `dx[argmax of each window] += dy`, the argmax being the first strictly greatest element in
   * row-major window order (tfjs's cpu rule). `geometry` is the pool's, as tfjs's `computePool2DInfo` gives it
   * (`outChannels` equal to `inChannels`, the window as the filter).
   */
  maxPoolGrad(geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /**
   * `dx = reluGrad(maxPoolGrad(x, dy), x)` in one pass, for a max pool whose input `x` is relu's output: bit for bit
   * {@link NativeKernels.maxPoolGrad} then {@link NativeKernels.reluGrad}, with one write of `dx` instead of three
   * passes. Only 2×2 windows with stride 2: returns false, writing nothing, for other pools. Absent in older builds.
   */
  maxPoolReluGrad?(geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array): boolean;
  /**
   * `maxPoolReluGrad`'s `dx` and, in the same pass, `dbias` (`c` floats) = the sum of `dx` over every axis but the
   * channels, bit for bit `sumRows(dx, n·h·w, c)`: the backward pass of conv + bias + relu → 2×2 max pool up to the
   * convolution's own gradients, reading the activation once. Returns false, writing nothing, for pools other than
   * 2×2 with stride 2. Absent in older builds.
   */
  maxPoolReluBiasGrad?(geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array, dbias: Float32Array): boolean;
  /**
   * `pooled = maxPool(relu(conv(x, filter) + bias))` in one pass, the pool 2×2 at stride 2 ('valid', tfjs's rule), for
   * a convolution at stride 1 without dilation (`geometry` is the convolution's; `pooled` holds
   * `n · ⌊oh/2⌋ · ⌊ow/2⌋ · oc` floats): each pair of output rows is computed into a buffer and pooled there, so the
   * full-size activation never goes to memory. A direct loop (products in the order ky, kx, ci), fast where there are
   * few input channels (a first layer); oneDNN's convolutions are faster from a few dozen. With `mask` (a Uint8Array of
   * `pooled`'s length) it also writes, per pooled value, which element won its window and what the gradient needs, for
   * `convReluPoolGrad` to read instead of computing the rows again: where the output channels are 16 to 64 in blocks
   * of 16 and the output's sides even (it returns true; elsewhere false, the mask untouched). Absent in older builds.
   */
  convReluPool?(geometry: ConvGeometry, x: Float32Array, filter: Float32Array, bias: Float32Array | null, pooled: Float32Array, mask?: Uint8Array | null): boolean;
  /**
   * The gradients of `sum(pooled · dpooled)` for {@link NativeKernels.convReluPool}: `dfilter` (HWIO) and `dbias`,
   * recomputing the convolution rows to find the pool's winners again; with `dz`, also the convolution output's
   * gradient `reluGrad(maxPoolGrad(dpooled))` (`n · oh · ow · oc` floats), from which `conv2dBackwardData` gives the
   * input's. Sums in float32 per output row, in float64 over rows. `mask`: what `convReluPool` wrote for the same `x`,
   * `filter` and `bias` when it returned true; the rows are then not computed again (the same values). Absent in
   * older builds.
   */
  convReluPoolGrad?(
    geometry: ConvGeometry,
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    dpooled: Float32Array,
    dfilter: Float32Array,
    dbias: Float32Array | null,
    dz: Float32Array | null,
    mask?: Uint8Array | null,
  ): void;
  /**
   * A 3×3 convolution (stride 1, channels in multiples of 16) followed by relu and a 2×2 max pool, with the convolution's
   * output and its gradient kept in oneDNN's blocked layout (nChw16c) between the kernels: oneDNN's Winograd
   * convolutions read and write that layout, and the pool and its gradient read it, so the largest activation is never
   * converted to and from NHWC (see {@link BlockedConvPoolKernels}). Absent in older builds and where oneDNN has no
   * Winograd kernels (AVX-512 only).
   */
  blocked?: BlockedConvPoolKernels;
  /**
   * `tf.image.transform` on float32 NHWC images (tfjs's `Transform` kernel), bit for bit tfjs-backend-wasm's values:
   * each output pixel `(x, y)` reads the input at `((t0·x + t1·y + t2) / k, (t3·x + t4·y + t5) / k)`, `k = t6·x + t7·y
   * + 1`, with `transforms` holding 8 values per image (or 8 for all when `options.perImage` is false), and writes
   * `out` (`[batch, outHeight, outWidth, channels]`). Fill modes `'constant'` and `'nearest'` only. Serial and
   * stateless, so a worker thread may call it. Absent in older builds (rebuild the addon).
   */
  transformImages?(image: Float32Array, shape: readonly [number, number, number, number], transforms: Float32Array, options: TransformImagesOptions, out: Float32Array): void;
  /** `out[j] = Σ_i x[i · cols + j]`: the sum over every axis but the innermost, accumulated in float64. */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /**
   * Relu's gradient in one pass on OpenMP threads: `dx[i] = dy[i] · (x[i] > 0 ? 1 : x[i] is NaN ? NaN : 0)`, bit for
   * bit tfjs's `mul(dy, cast(step(x), 'float32'))`. `x` and `dx` hold at least `dy.length` floats. Absent when the
   * addon was built from older sources (rebuild it).
   */
  reluGrad?(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /**
   * The backward pass of `relu(conv + bias)` in one sweep, from the layer's output `y = relu(z)`: `dx` as
   * {@link NativeKernels.reluGrad} gives it for `y` (y > 0 exactly where z > 0, NaN where z is NaN), and `dbias[j]`
   * the sum of `dx` over every axis but the innermost (`cols` wide), bit for bit {@link NativeKernels.sumRows} of
   * `dx`. `y` and `dx` hold `dy.length` floats, `dbias` `cols`. Absent in older builds (rebuild the addon).
   */
  reluBiasGrad?(dy: Float32Array, y: Float32Array, cols: number, dx: Float32Array, dbias: Float32Array): void;
  /**
   * `out[i·cols + j] = a[i·cols + j] + b[(i mod bRows)·cols + j]` on OpenMP threads: a same-shape sum (`bRows` =
   * `rows`) or a bias over the innermost axis (`bRows` = 1), each sum rounded once to float32 as tfjs's `Add`.
   * Absent when the addon was built from older sources.
   */
  addRows?(a: Float32Array, rows: number, cols: number, b: Float32Array, bRows: number, out: Float32Array): void;
  /** `out = x > 0 ? x : 0` with NaN kept (tfjs's relu: relu(−0) is +0), on OpenMP threads. Absent in older builds. */
  relu?(x: Float32Array, out: Float32Array): void;
  /**
   * Max pooling: `y` = the first strictly greatest element of each window, −∞ when there is none (a window of NaN or
   * −∞): tfjs's cpu rule, which {@link NativeKernels.maxPoolGrad} follows. `geometry` as for `maxPoolGrad`. Absent in
   * older builds.
   */
  maxPool?(geometry: ConvGeometry, x: Float32Array, y: Float32Array): void;
  /**
   * The convolutions' precision: `'f32'` (the default), or `'bf16'`: inputs and weights rounded to bfloat16 for the
   * products, sums and outputs in float32 (oneDNN's bf16 kernels; AMX where the CPU has it). Only on a CPU with bf16
   * instructions (`info().cpuIsa` `avx512_core_bf16` or `avx512_core_amx`), else it throws; a convolution oneDNN
   * has no fast bf16 kernel for stays in f32. Changes results (about 3 significant digits per product): an opt-in.
   * Absent in older builds.
   */
  setPrecision?(precision: 'f32' | 'bf16'): void;
  /** The current precision of the convolutions (see `setPrecision`). Absent in older builds. */
  getPrecision?(): 'f32' | 'bf16';
  /**
   * Which float32 convolutions run with oneDNN's Winograd F(4×4, 3×3) algorithm instead of its direct one: `'auto'`
   * (the default) those measured faster that way (3×3, stride 1, no dilation, channel counts in multiples of 16 with
   * 32 or more input channels and c·oc / (c + oc) ≥ 20, output sides in multiples of 4), `'direct'` none, `'winograd'` every 3×3 stride-1
   * convolution oneDNN has a Winograd kernel for. Winograd needs AVX-512 (oneDNN 2.x); elsewhere, and for the shapes
   * it refuses, convolutions stay direct. Its results differ from the direct algorithm's by rounding (measured: the
   * largest error against a float64 reference 1.5× the direct one's). bf16 convolutions (`setPrecision`) are never
   * Winograd. Absent in older builds.
   */
  setConvAlgorithm?(algorithm: ConvAlgorithm): void;
  /** The current convolution algorithm setting (see `setConvAlgorithm`). Absent in older builds. */
  getConvAlgorithm?(): ConvAlgorithm;
  /**
   * One Adam/AdamW step of one variable, in one pass (@convkit/optim's rule, float32 with no fused multiply-add):
   * reads `w`, `g`, `m`, `v` (and `vMax`) and writes `wOut`, `mOut`, `vOut` (and `vMaxOut`). `scalars` are the
   * float32 `[weightScale, weightDecay, beta1, 1 − beta1, beta2, 1 − beta2, −stepSize, √biasCorrection2, epsilon]`;
   * `flags` bit 0 is amsgrad (`vMax`, `vMaxOut` given), bit 1 decoupled decay (AdamW: `w·weightScale`), bit 2 the L2
   * term (`g + w·weightDecay`). An output may be its input (`wOut = w`, `mOut = m`, …: the update in place); outputs
   * must not otherwise overlap the inputs. Absent when the addon was built from older sources (rebuild it).
   */
  adamUpdate?(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    vMax: Float32Array | null,
    wOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    vMaxOut: Float32Array | null,
    scalars: Float32Array,
    flags: number,
  ): void;
  /**
   * One SGD step of one variable, in one pass: reads `w`, `g` (and the momentum buffer `b`), writes `wOut` (and
   * `bOut`). `scalars` are the float32 `[weightDecay, momentum, 1 − dampening, −learningRate]`; `flags` bit 0 is the
   * L2 term, bit 1 momentum (`b`, `bOut` given), bit 2 Nesterov. In place or not, as `adamUpdate`. Absent when the addon
   * predates it, as `adamUpdate`.
   */
  sgdUpdate?(w: Float32Array, g: Float32Array, b: Float32Array | null, wOut: Float32Array, bOut: Float32Array | null, scalars: Float32Array, flags: number): void;
  /**
   * Decodes a JPEG (baseline or progressive, grey or YCbCr; not CMYK) into RGB with libjpeg-turbo, on the addon's
   * decode threads (one per CPU, nice + 10 or `CONVKIT_DECODE_NICE`, so a training step beside them keeps its core):
   * the promise resolves with the image, or rejects with libjpeg's reason (a file that ends early is
   * an error, not grey rows). `input` is the file's bytes or its path (then read on the decode thread too: one
   * round trip to the JavaScript thread per image, where `fs.promises.readFile` takes four). At scale 8 with no warp or resize the bytes are the full decode's, the same as
   * sharp's. Absent when the addon was built without libjpeg-turbo's headers (Debian: libjpeg62-turbo-dev).
   *
   * @example
   * ```ts
   * const image = await loadNative().decodeJpeg!(await readFile('cat.jpg'), { scale: 4, resize: { width: 64, height: 64 } });
   * ```
   */
  decodeJpeg?(input: Uint8Array | string, options?: DecodeJpegOptions): Promise<DecodedJpeg>;
  /** {@link geometryProblem}: what the addon would refuse in a geometry, or `undefined`. */
  geometryProblem(geometry: ConvGeometry): string | undefined;
  /** Sets the number of OpenMP threads oneDNN uses. */
  setThreads(threads: number): void;
  /** The number of OpenMP threads oneDNN uses. */
  getThreads(): number;
  /** oneDNN's version and the instruction set its kernels use here (`'avx2'`, `'avx512_core'`, …). */
  info(): { version: string; cpuIsa: string };
  /** The oneDNN implementation chosen for a convolution pass, e.g. `'jit:avx2'`. */
  implementation(pass: 'fwd' | 'bwd_data' | 'bwd_weights', geometry: ConvGeometry): string;
}

/** Whether the addon loaded, and why not. */
export type NativeStatus =
  | { available: true; version: string; cpuIsa: string; threads: number }
  | { available: false; reason: string };

/**
 * The kernels of {@link NativeKernels.blocked}. A blocked activation of a convolution's output `[n, oc, oh, ow]` holds
 * `n · oc · oh · ow` floats at `(((b · oc/16 + j) · oh + y) · ow + x) · 16 + k` for channel `16j + k`. The
 * convolutions are oneDNN's Winograd F(4×4, 3×3): float32 sums in another order than the direct kernels' (measured:
 * the largest error against a float64 reference 1.5× the direct one's).
 */
export interface BlockedConvPoolKernels {
  /**
   * Whether the kernels below take the convolution: 3×3, stride 1, no dilation, input and output channels in multiples
   * of 16, an output of at least 2×2, float32 precision, a convolution algorithm other than `'direct'`, under `'auto'`
   * at least 32 input and 32 output channels, and oneDNN's Winograd kernels present. The others throw for
   * a convolution it refuses.
   */
  fits(geometry: ConvGeometry): boolean;
  /** `y` (blocked) = `conv(x, filter) + bias`, no activation; `x` NHWC, `filter` HWIO. */
  conv(geometry: ConvGeometry, x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array): void;
  /** `dx` (NHWC) = the gradient of the convolution with respect to its input, from `dy` (blocked). */
  backwardData(geometry: ConvGeometry, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  /** `dfilter` (HWIO) = the gradient of the convolution with respect to its filter, from `x` (NHWC) and `dy` (blocked). */
  backwardFilter(geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dfilter: Float32Array): void;
  /**
   * `pooled` (NHWC, `n · ⌊oh/2⌋ · ⌊ow/2⌋ · oc`) = `maxPool(relu(y))`, 2×2 windows at stride 2 ('valid'), from `y`
   * (blocked): tfjs's relu (NaN kept) and pool rule (the first strictly greatest; NaN never wins). `geometry` is the
   * convolution's.
   */
  reluPool(geometry: ConvGeometry, y: Float32Array, pooled: Float32Array): void;
  /**
   * `dy` (blocked) = `reluGrad(maxPoolGrad(dpooled))` for {@link BlockedConvPoolKernels.reluPool}, the values of
   * `maxPoolReluGrad` on the NHWC relu output; `dbias[oc]` = the sum of `dy` over every pixel (float32 over a pair of
   * rows, float64 over pairs).
   */
  reluPoolGrad(geometry: ConvGeometry, y: Float32Array, dpooled: Float32Array, dy: Float32Array, dbias: Float32Array | null): void;
}

interface RawAddon {
  conv2d(geometry: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array, activation: number, alpha: number): void;
  conv2dBackwardData(geometry: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackwardFilter(geometry: Int32Array, x: Float32Array, dy: Float32Array, dfilter: Float32Array): void;
  matMul: NativeKernels['matMul'];
  maxPoolGrad(geometry: Int32Array, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  maxPoolReluGrad?(geometry: Int32Array, x: Float32Array, dy: Float32Array, dx: Float32Array): boolean;
  maxPoolReluBiasGrad?(geometry: Int32Array, x: Float32Array, dy: Float32Array, dx: Float32Array, dbias: Float32Array): boolean;
  convReluPool?(geometry: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, pooled: Float32Array, mask: Uint8Array | null): boolean;
  convReluPoolGrad?(
    geometry: Int32Array,
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    dpooled: Float32Array,
    dfilter: Float32Array,
    dbias: Float32Array | null,
    dz: Float32Array | null,
    mask: Uint8Array | null,
  ): void;
  blockedConvFits?(geometry: Int32Array): boolean;
  blockedConv?(geometry: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array): void;
  blockedConvBackwardData?(geometry: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  blockedConvBackwardFilter?(geometry: Int32Array, x: Float32Array, dy: Float32Array, dfilter: Float32Array): void;
  blockedReluPool?(geometry: Int32Array, y: Float32Array, pooled: Float32Array): void;
  blockedReluPoolGrad?(geometry: Int32Array, y: Float32Array, dpooled: Float32Array, dy: Float32Array, dbias: Float32Array | null): void;
  sumRows: NativeKernels['sumRows'];
  reluGrad?: NonNullable<NativeKernels['reluGrad']>;
  transformImages?(image: Float32Array, dims: Int32Array, transforms: Float32Array, fillValue: number, out: Float32Array): void;
  reluBiasGrad?: NonNullable<NativeKernels['reluBiasGrad']>;
  addRows?: NonNullable<NativeKernels['addRows']>;
  relu?: NonNullable<NativeKernels['relu']>;
  maxPool?(geometry: Int32Array, x: Float32Array, y: Float32Array): void;
  setPrecision?(precision: string): void;
  getPrecision?(): 'f32' | 'bf16';
  setConvAlgorithm?(algorithm: string): void;
  getConvAlgorithm?(): ConvAlgorithm;
  adamUpdate?: NonNullable<NativeKernels['adamUpdate']>;
  sgdUpdate?: NonNullable<NativeKernels['sgdUpdate']>;
  setThreads(threads: number): void;
  getThreads(): number;
  info(): { version: string; cpuIsa: string };
  implementation(pass: string, geometry: Int32Array): string;
  decodeJpeg?(
    input: Uint8Array | string,
    scale: number,
    warp: Float64Array | null,
    resizeWidth: number,
    resizeHeight: number,
    color: Float64Array | null,
    into: Float32Array | null,
    intoOffset: number,
    intoScale: number,
    refuseIccProfile: boolean,
  ): Promise<DecodedJpeg>;
}

const GEOMETRY_FIELDS = [
  'batchSize',
  'inHeight',
  'inWidth',
  'inChannels',
  'outChannels',
  'filterHeight',
  'filterWidth',
  'outHeight',
  'outWidth',
  'strideHeight',
  'strideWidth',
  'dilationHeight',
  'dilationWidth',
] as const;

/**
 * What is wrong with a geometry for the addon, or `undefined`: a field that is not a positive integer (pads: not an
 * integer), or an output size that does not follow from the input, filter, stride, dilation and pads (tfjs's
 * `dimRoundingMode` 'ceil' or 'round' can give one; @convkit/core sends those to its other kernels).
 */
export function geometryProblem(geometry: ConvGeometry): string | undefined {
  for (const field of GEOMETRY_FIELDS) {
    const value = geometry[field];
    if (!Number.isInteger(value) || value < 1) return `geometry.${field} must be a positive integer (received ${String(value)})`;
  }
  const pads = { top: geometry.padInfo?.top, left: geometry.padInfo?.left, bottom: geometry.padInfo?.bottom, right: geometry.padInfo?.right };
  for (const [side, value] of Object.entries(pads)) {
    if (!Number.isInteger(value)) return `geometry.padInfo.${side} must be an integer (received ${String(value)})`;
  }
  return (
    extentProblem(geometry, 'Height', geometry.padInfo.top, geometry.padInfo.bottom) ??
    extentProblem(geometry, 'Width', geometry.padInfo.left, geometry.padInfo.right)
  );
}

/** Packs a {@link ConvGeometry} into the Int32Array the addon reads; throws {@link geometryProblem}'s message. */
export function packGeometry(geometry: ConvGeometry): Int32Array {
  const problem = geometryProblem(geometry);
  if (problem !== undefined) throw new Error(problem);
  const { top, left, bottom, right } = geometry.padInfo;
  return Int32Array.from([...GEOMETRY_FIELDS.map((field) => geometry[field]), top, left, bottom, right]);
}

/** Why the output size along one axis is not the one the input, filter, stride, dilation and pads give, if so. */
function extentProblem(geometry: ConvGeometry, axis: 'Height' | 'Width', before: number, after: number): string | undefined {
  const input = geometry[`in${axis}`];
  const filter = geometry[`filter${axis}`];
  const dilation = geometry[`dilation${axis}`];
  const stride = geometry[`stride${axis}`];
  const extent = (filter - 1) * dilation + 1;
  const expected = Math.floor((input + before + after - extent) / stride) + 1;
  if (geometry[`out${axis}`] === expected) return undefined;
  return (
    `geometry.out${axis} is ${geometry[`out${axis}`]} but in${axis} ${input}, filter${axis} ${filter}, ` +
    `dilation ${dilation}, stride ${stride} and pads ${before}+${after} give ${expected}`
  );
}

type RawJpegArguments = [Uint8Array | string, number, Float64Array | null, number, number, Float64Array | null, Float32Array | null, number, number, boolean];

function jpegArguments(input: Uint8Array | string, options: DecodeJpegOptions): RawJpegArguments {
  if (!(input instanceof Uint8Array) && !(typeof input === 'string' && input.length > 0)) {
    throw new Error(`decodeJpeg: input must be a Uint8Array or a file path (received ${describe(input)})`);
  }
  const { warp, resize, color, into, refuseIccProfile = false } = options;
  const scale = options.scale ?? 8;
  if (scale === 'fit') {
    if (resize === undefined) throw new Error("decodeJpeg: options.scale 'fit' needs options.resize (received no resize)");
  } else if (!Number.isInteger(scale) || scale < 1 || scale > 8) {
    throw new Error(`decodeJpeg: options.scale must be an integer from 1 to 8 or 'fit' (received ${String(scale)})`);
  }
  const rawScale = scale === 'fit' ? 0 : scale;
  let packedWarp: Float64Array | null = null;
  let size = [0, 0];
  if (resize !== undefined) {
    if (warp !== undefined) throw new Error('decodeJpeg: options.resize and options.warp cannot be combined (received both)');
    for (const [name, value] of [['width', resize.width], ['height', resize.height]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`decodeJpeg: options.resize.${name} must be an integer from 1 to 65535 (received ${String(value)})`);
    }
    size = [resize.width, resize.height];
  } else if (warp !== undefined) {
    const { matrix, width, height, fill = 0 } = warp;
    finiteNumbers('options.warp.matrix', matrix, 6, '[a, b, c, d, e, f]');
    for (const [name, value] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`decodeJpeg: options.warp.${name} must be an integer from 1 to 65535 (received ${String(value)})`);
    }
    if (!Number.isInteger(fill) || fill < 0 || fill > 255) throw new Error(`decodeJpeg: options.warp.fill must be an integer from 0 to 255 (received ${String(fill)})`);
    packedWarp = Float64Array.from([...matrix, width, height, fill]);
    size = [width, height];
  }
  let packedColor: Float64Array | null = null;
  if (color !== undefined) {
    if (into === undefined) throw new Error('decodeJpeg: options.color needs options.into (received color without into)');
    finiteNumbers('options.color.matrix', color.matrix, 9, '(row-major 3×3)');
    finiteNumbers('options.color.offset', color.offset, 3, '(one per channel)');
    finiteNumbers('options.color.greyGain', color.greyGain, 3, '(one per channel)');
    packedColor = Float64Array.from([...color.matrix, ...color.offset, ...color.greyGain]);
  }
  if (into === undefined) return [input, rawScale, packedWarp, resize ? size[0]! : 0, resize ? size[1]! : 0, null, null, 0, 1, refuseIccProfile];
  const { out, offset = 0, scale: valueScale = 1 } = into;
  if (!(out instanceof Float32Array)) throw new Error(`decodeJpeg: options.into.out must be a Float32Array (received ${describe(out)})`);
  if (size[0] === 0) throw new Error('decodeJpeg: options.into needs options.warp or options.resize (the size must be known before decoding)');
  const values = size[0]! * size[1]! * 3;
  if (!Number.isInteger(offset) || offset < 0 || offset + values > out.length) {
    throw new Error(`decodeJpeg: options.into.offset must leave room for ${values} values in out (length ${out.length}; received offset ${String(offset)})`);
  }
  if (!Number.isFinite(valueScale)) throw new Error(`decodeJpeg: options.into.scale must be a finite number (received ${String(valueScale)})`);
  return [input, rawScale, packedWarp, resize ? size[0]! : 0, resize ? size[1]! : 0, packedColor, out, offset, valueScale, refuseIccProfile];
}

function finiteNumbers(name: string, values: readonly number[], count: number, shape: string): void {
  if (!Array.isArray(values) || values.length !== count || !values.every((value) => Number.isFinite(value))) {
    throw new Error(`decodeJpeg: ${name} must be ${count} finite numbers ${shape} (received ${describe(values)})`);
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(String).join(', ')}]`;
  return value === null || typeof value !== 'object' ? String(value) : (value.constructor?.name ?? 'an object');
}

const INTERPOLATIONS = { nearest: 1, bilinear: 2 } as const;
const FILL_MODES = { constant: 1, nearest: 4 } as const;

function checkFillValue(value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new Error(`transformImages: options.fillValue must be a number (received ${String(value)})`);
  return value;
}

/** `transformImages`' options as the addon's dims, checked. */
function transformDims(shape: readonly number[], options: TransformImagesOptions): Int32Array {
  if (!Array.isArray(shape) || shape.length !== 4) throw new Error(`transformImages: shape must be [batch, height, width, channels] (received ${JSON.stringify(shape)})`);
  const { outHeight = shape[1], outWidth = shape[2], interpolation = 'bilinear', fillMode = 'constant', perImage = true } = options;
  const sizes: [string, unknown][] = [['shape[0]', shape[0]], ['shape[1]', shape[1]], ['shape[2]', shape[2]], ['shape[3]', shape[3]], ['options.outHeight', outHeight], ['options.outWidth', outWidth]];
  for (const [name, value] of sizes) {
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 2 ** 31 - 1) throw new Error(`transformImages: ${name} must be a positive integer (received ${String(value)})`);
  }
  const interpolationCode = INTERPOLATIONS[interpolation as keyof typeof INTERPOLATIONS];
  if (interpolationCode === undefined) throw new Error(`transformImages: options.interpolation must be 'bilinear' or 'nearest' (received ${String(interpolation)})`);
  const fillCode = FILL_MODES[fillMode as keyof typeof FILL_MODES];
  if (fillCode === undefined) throw new Error(`transformImages: options.fillMode must be 'constant' or 'nearest' (received ${String(fillMode)})`);
  if (typeof perImage !== 'boolean') throw new Error(`transformImages: options.perImage must be a boolean (received ${String(perImage)})`);
  return Int32Array.from([shape[0]!, shape[1]!, shape[2]!, shape[3]!, outHeight, outWidth, perImage ? 1 : 0, interpolationCode, fillCode]);
}

function wrapBlocked(raw: RawAddon): BlockedConvPoolKernels {
  return {
    fits: (geometry) => raw.blockedConvFits!(packGeometry(geometry)),
    conv: (geometry, x, filter, bias, y) => raw.blockedConv!(packGeometry(geometry), x, filter, bias ?? null, y),
    backwardData: (geometry, dy, filter, dx) => raw.blockedConvBackwardData!(packGeometry(geometry), dy, filter, dx),
    backwardFilter: (geometry, x, dy, dfilter) => raw.blockedConvBackwardFilter!(packGeometry(geometry), x, dy, dfilter),
    reluPool: (geometry, y, pooled) => raw.blockedReluPool!(packGeometry(geometry), y, pooled),
    reluPoolGrad: (geometry, y, dpooled, dy, dbias) => raw.blockedReluPoolGrad!(packGeometry(geometry), y, dpooled, dy, dbias ?? null),
  };
}

function wrap(raw: RawAddon): NativeKernels {
  return {
    conv2d(geometry, x, filter, bias, y, activation = 'linear', leakyreluAlpha = 0.2) {
      const code = FUSED_ACTIVATIONS[activation];
      if (code === undefined) {
        throw new Error(`activation must be one of ${Object.keys(FUSED_ACTIVATIONS).join(', ')} (received '${activation}')`);
      }
      raw.conv2d(packGeometry(geometry), x, filter, bias, y, code, leakyreluAlpha);
    },
    conv2dBackwardData: (geometry, dy, filter, dx) => raw.conv2dBackwardData(packGeometry(geometry), dy, filter, dx),
    conv2dBackwardFilter: (geometry, x, dy, dfilter) => raw.conv2dBackwardFilter(packGeometry(geometry), x, dy, dfilter),
    matMul: (...args) => raw.matMul(...args),
    maxPoolGrad: (geometry, x, dy, dx) => raw.maxPoolGrad(packGeometry(geometry), x, dy, dx),
    ...(raw.maxPoolReluGrad === undefined
      ? {}
      : { maxPoolReluGrad: (geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array) => raw.maxPoolReluGrad!(packGeometry(geometry), x, dy, dx) }),
    ...(raw.convReluPool === undefined || raw.convReluPoolGrad === undefined
      ? {}
      : {
          convReluPool: (geometry: ConvGeometry, x: Float32Array, filter: Float32Array, bias: Float32Array | null, pooled: Float32Array, mask?: Uint8Array | null) =>
            raw.convReluPool!(packGeometry(geometry), x, filter, bias ?? null, pooled, mask ?? null),
          convReluPoolGrad: (
            geometry: ConvGeometry,
            x: Float32Array,
            filter: Float32Array,
            bias: Float32Array | null,
            dpooled: Float32Array,
            dfilter: Float32Array,
            dbias: Float32Array | null,
            dz: Float32Array | null,
            mask?: Uint8Array | null,
          ) => raw.convReluPoolGrad!(packGeometry(geometry), x, filter, bias ?? null, dpooled, dfilter, dbias ?? null, dz ?? null, mask ?? null),
        }),
    ...(raw.blockedConvFits === undefined ? {} : { blocked: wrapBlocked(raw) }),
    ...(raw.maxPoolReluBiasGrad === undefined
      ? {}
      : {
          maxPoolReluBiasGrad: (geometry: ConvGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array, dbias: Float32Array) =>
            raw.maxPoolReluBiasGrad!(packGeometry(geometry), x, dy, dx, dbias),
        }),
    sumRows: (x, rows, cols, out) => raw.sumRows(x, rows, cols, out),
    ...(raw.reluGrad === undefined ? {} : { reluGrad: raw.reluGrad }),
    ...(raw.reluBiasGrad === undefined ? {} : { reluBiasGrad: raw.reluBiasGrad }),
    ...(raw.transformImages === undefined
      ? {}
      : {
          transformImages: (image: Float32Array, shape: readonly [number, number, number, number], transforms: Float32Array, options: TransformImagesOptions, out: Float32Array) =>
            raw.transformImages!(image, transformDims(shape, options), transforms, checkFillValue(options.fillValue), out),
        }),
    ...(raw.addRows === undefined ? {} : { addRows: raw.addRows }),
    ...(raw.relu === undefined ? {} : { relu: raw.relu }),
    ...(raw.setPrecision === undefined || raw.getPrecision === undefined
      ? {}
      : {
          setPrecision(precision: 'f32' | 'bf16') {
            if (precision !== 'f32' && precision !== 'bf16') throw new Error(`precision must be 'f32' or 'bf16' (received ${String(precision)})`);
            raw.setPrecision!(precision);
          },
          getPrecision: () => raw.getPrecision!(),
        }),
    ...(raw.setConvAlgorithm === undefined || raw.getConvAlgorithm === undefined
      ? {}
      : {
          setConvAlgorithm(algorithm: ConvAlgorithm) {
            if (!CONV_ALGORITHMS.includes(algorithm)) {
              throw new Error(`algorithm must be one of ${CONV_ALGORITHMS.map((a) => `'${a}'`).join(', ')} (received ${String(algorithm)})`);
            }
            raw.setConvAlgorithm!(algorithm);
          },
          getConvAlgorithm: () => raw.getConvAlgorithm!(),
        }),
    ...(raw.maxPool === undefined ? {} : { maxPool: (geometry: ConvGeometry, x: Float32Array, y: Float32Array) => raw.maxPool!(packGeometry(geometry), x, y) }),
    ...(raw.adamUpdate === undefined ? {} : { adamUpdate: raw.adamUpdate }),
    ...(raw.sgdUpdate === undefined ? {} : { sgdUpdate: raw.sgdUpdate }),
    ...(raw.decodeJpeg === undefined ? {} : { decodeJpeg: (input: Uint8Array | string, options: DecodeJpegOptions = {}) => raw.decodeJpeg!(...jpegArguments(input, options)) }),
    setThreads(threads) {
      if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer (received ${threads})`);
      raw.setThreads(threads);
    },
    geometryProblem,
    getThreads: () => raw.getThreads(),
    info: () => raw.info(),
    implementation: (pass, geometry) => raw.implementation(pass, packGeometry(geometry)),
  };
}

/** Where the addon lies once built; `CONVKIT_NATIVE_ADDON` overrides it. */
export const ADDON_PATH: string = new URL('../build/Release/convkit_native.node', import.meta.url).pathname;

/**
 * libgomp's spin count before an idle OpenMP thread sleeps, unless `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` is set.
 * libgomp's default (300,000 spins) keeps oneDNN's threads busy between kernels, taking the cores from the wasm
 * backend's own threads and from JavaScript: W1 training ran at 883 samples/s with it and 1,200–1,440 with 0 or
 * 10,000 (2 threads, this repository's `npm run bench`).
 */
export const DEFAULT_GOMP_SPINCOUNT = '10000';

let loaded: { kernels: NativeKernels } | { error: string } | undefined;

function load(): { kernels: NativeKernels } | { error: string } {
  if (loaded !== undefined) return loaded;
  const path = process.env['CONVKIT_NATIVE_ADDON'] || ADDON_PATH;
  // libgomp reads its settings once, when the addon's dependencies load.
  if (process.env['GOMP_SPINCOUNT'] === undefined && process.env['OMP_WAIT_POLICY'] === undefined) {
    process.env['GOMP_SPINCOUNT'] = DEFAULT_GOMP_SPINCOUNT;
  }
  try {
    loaded = { kernels: wrap(createRequire(import.meta.url)(path) as RawAddon) };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const code = (error as { code?: unknown } | null)?.code;
    loaded = {
      error:
        code === 'MODULE_NOT_FOUND'
          ? `the addon was not built (no ${path}); install libdnnl-dev and a C++ compiler, then \`npm rebuild @convkit/native\``
          : `the addon failed to load: ${message}`,
    };
  }
  return loaded;
}

/**
 * The addon's kernels. Throws, saying why, when the addon was not built or does not load.
 *
 * @example
 * ```ts
 * import { loadNative } from '@convkit/native';
 * const native = loadNative();
 * const c = new Float32Array(4);
 * native.matMul(1, 2, 2, 2, false, false, new Float32Array([1, 2, 3, 4]), 0, new Float32Array([1, 0, 0, 1]), 0, c);
 * // c: [1, 2, 3, 4]
 * ```
 */
export function loadNative(): NativeKernels {
  const result = load();
  if ('error' in result) throw new Error(`@convkit/native: ${result.error}`);
  return result.kernels;
}

/** Whether the addon is available, with oneDNN's version, its instruction set and its threads, or the reason. */
export function nativeStatus(): NativeStatus {
  const result = load();
  if ('error' in result) return { available: false, reason: result.error };
  const { version, cpuIsa } = result.kernels.info();
  return { available: true, version, cpuIsa, threads: result.kernels.getThreads() };
}
