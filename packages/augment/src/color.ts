import { createRng } from '@convkit/core';
import type { Rng } from '@convkit/core';
import type { ColorMap, ImageTransform, RawImage } from './transform.js';
import { checkAtLeast, transformBase } from './transform.js';

/** Options of {@link colorJitter}; each amount `a` draws a factor uniform in [1 − a, 1 + a] (hue: a shift in ±a turns). */
export interface ColorJitterOptions {
  /** Brightness: multiplies the pixels by the factor. Defaults to 0.2. */
  brightness?: number;
  /** Contrast: blends with the image's mean grey by the factor. Defaults to 0.2. */
  contrast?: number;
  /** Saturation: blends each pixel with its grey by the factor. Defaults to 0.2. */
  saturation?: number;
  /** Hue: rotates the chroma (YIQ) by up to `hue` turns, at most 0.5. Defaults to 0.05. */
  hue?: number;
  /** Defaults to 1. */
  p?: number;
}

/** Parameters of {@link colorJitter}: the factors (1 = unchanged) and the hue shift in turns (0 = unchanged). */
export interface ColorJitterParams {
  readonly brightness: number;
  readonly contrast: number;
  readonly saturation: number;
  readonly hue: number;
}

const GREY = [0.299, 0.587, 0.114] as const;
type Matrix3 = number[];

function multiply(a: Matrix3, b: Matrix3): Matrix3 {
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[i * 3 + j]! += a[i * 3 + k]! * b[k * 3 + j]!;
  return out;
}

/** The hue rotation by `turns` as an RGB matrix: to YIQ, rotate I/Q, back to RGB. */
function hueMatrix(turns: number): Matrix3 {
  const toYiq = [0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312];
  const toRgb = [1, 0.956, 0.621, 1, -0.272, -0.647, 1, -1.106, 1.703];
  const c = Math.cos(2 * Math.PI * turns);
  const s = Math.sin(2 * Math.PI * turns);
  return multiply(toRgb, multiply([1, 0, 0, 0, c, -s, 0, s, c], toYiq));
}

function meanGrey(image: RawImage): number {
  const { data, channels } = image;
  const pixels = image.width * image.height;
  let sum = 0;
  if (channels < 3) {
    for (let i = 0; i < data.length; i += channels) sum += data[i]!;
  } else {
    for (let i = 0; i < data.length; i += channels) sum += GREY[0] * data[i]! + GREY[1] * data[i + 1]! + GREY[2] * data[i + 2]!;
  }
  return sum / pixels;
}

/**
 * Applies brightness, contrast, saturation and hue in that order as one affine colour map
 * `x ↦ A·x + t` (no clipping between the steps), then rounds and clips to [0, 255] once.
 * Grey images (1 or 2 channels) get brightness and contrast only; a 4th channel (alpha) is kept.
 */
export function applyColorJitter(image: RawImage, params: ColorJitterParams): RawImage {
  const out = new Uint8Array(image.data.length);
  colorJitterInto(image, params, out, 0, 1);
  return { ...image, data: out };
}

/**
 * Writes {@link applyColorJitter}'s output values times `scale` into `out` from `offset` in the same
 * pass (each value is rounded and clipped to an integer in [0, 255] first, so the floats are exactly
 * the converted bytes). Returns the number of values written.
 */
export function colorJitterInto(image: RawImage, params: ColorJitterParams, out: Uint8Array | Float32Array, offset: number, scale: number): number {
  const { data, channels } = image;
  const n = data.length;
  if (channels < 3) {
    const b = params.brightness;
    const c = params.contrast;
    const offsetGrey = c === 1 ? 0 : (1 - c) * (b * meanGrey(image));
    const gain = b * c;
    for (let i = 0; i < n; i += channels) {
      const v = gain * data[i]! + offsetGrey + 0.5;
      out[offset + i] = (v <= 0 ? 0 : v >= 255 ? 255 : v | 0) * scale;
      if (channels === 2) out[offset + i + 1] = data[i + 1]! * scale;
    }
    return n;
  }
  const { matrix: m, offset: t, greyGain: g } = jitterColorMap(params);
  const mean = g[0] === 0 && g[1] === 0 && g[2] === 0 ? 0 : meanGrey(image);
  const matrix = [m[0]!, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7]!, m[8]!, g[0]! * mean + t[0]!, g[1]! * mean + t[1]!, g[2]! * mean + t[2]!] as const;
  if (channels === 3) mapRgb(data, out, offset, scale, matrix);
  else mapRgbKeepRest(data, channels, out, offset, scale, matrix);
  return n;
}

/**
 * Brightness `b`, contrast `c`, saturation and hue as one {@link ColorMap}: `b·c·H·S·x + (1 − c)·b·meanGrey·H·S·1`
 * (S blends with the pixel's grey, H rotates the chroma), plus ½ for the rounding.
 */
function jitterColorMap(params: ColorJitterParams): ColorMap {
  const b = params.brightness;
  const c = params.contrast;
  const s = params.saturation;
  const saturate = [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => (i === j ? s : 0) + (1 - s) * GREY[j]!));
  const colour = params.hue === 0 ? saturate : multiply(hueMatrix(params.hue), saturate);
  // The offset (1 − c)·b·meanGrey on every channel, through the saturation and hue maps.
  const rowSums = [0, 1, 2].map((i) => colour[i * 3]! + colour[i * 3 + 1]! + colour[i * 3 + 2]!);
  return {
    matrix: colour.map((v) => v * b * c),
    offset: [0.5, 0.5, 0.5],
    greyGain: c === 1 ? [0, 0, 0] : rowSums.map((sum) => (1 - c) * b * sum),
  };
}

type ColourMap = readonly [number, number, number, number, number, number, number, number, number, number, number, number];

/** `out = clip(round(M·rgb + t)) × scale` over packed RGB pixels (its own function, so V8 compiles it for stride 3). */
function mapRgb(data: Uint8Array, out: Uint8Array | Float32Array, offset: number, scale: number, map: ColourMap): void {
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8, t0, t1, t2] = map;
  const n = data.length;
  for (let i = 0, o = offset; i < n; i += 3, o += 3) {
    const r = data[i]!;
    const g = data[i + 1]!;
    const b = data[i + 2]!;
    const v0 = m0 * r + m1 * g + m2 * b + t0;
    const v1 = m3 * r + m4 * g + m5 * b + t1;
    const v2 = m6 * r + m7 * g + m8 * b + t2;
    out[o] = (v0 <= 0 ? 0 : v0 >= 255 ? 255 : v0 | 0) * scale;
    out[o + 1] = (v1 <= 0 ? 0 : v1 >= 255 ? 255 : v1 | 0) * scale;
    out[o + 2] = (v2 <= 0 ? 0 : v2 >= 255 ? 255 : v2 | 0) * scale;
  }
}

/** {@link mapRgb} for 4 or more channels: the first three are mapped, the others copied (times `scale`). */
function mapRgbKeepRest(data: Uint8Array, channels: number, out: Uint8Array | Float32Array, offset: number, scale: number, map: ColourMap): void {
  const pixels = data.length / channels;
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) for (let k = 0; k < 3; k++) rgb[p * 3 + k] = data[p * channels + k]!;
  const mapped = new Float32Array(pixels * 3);
  mapRgb(rgb, mapped, 0, scale, map);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < channels; k++) out[offset + p * channels + k] = k < 3 ? mapped[p * 3 + k]! : data[p * channels + k]! * scale;
  }
}

function factor(rng: Rng, amount: number): number {
  return amount > 0 ? rng.uniform(Math.max(0, 1 - amount), 1 + amount) : 1;
}

/**
 * Random brightness, contrast, saturation and hue (torchvision `ColorJitter`, in a fixed order and
 * fused into one pass). `strength` scales every amount; 0 leaves the image unchanged.
 *
 * @example
 * ```ts
 * const jitter = colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 });
 * ```
 */
export function colorJitter(options: ColorJitterOptions = {}): ImageTransform<ColorJitterParams> {
  return jitter('colorJitter', {
    brightness: options.brightness ?? 0.2,
    contrast: options.contrast ?? 0.2,
    saturation: options.saturation ?? 0.2,
    hue: options.hue ?? 0.05,
    p: options.p ?? 1,
  });
}

function jitter(name: string, options: Required<ColorJitterOptions>): ImageTransform<ColorJitterParams> {
  const amounts = {
    brightness: checkAtLeast(`${name}: brightness`, options.brightness, 0),
    contrast: checkAtLeast(`${name}: contrast`, options.contrast, 0),
    saturation: checkAtLeast(`${name}: saturation`, options.saturation, 0),
    hue: options.hue,
  };
  if (!(typeof amounts.hue === 'number' && amounts.hue >= 0 && amounts.hue <= 0.5)) {
    throw new Error(`${name}: hue must be a number in [0, 0.5] (received ${String(amounts.hue)})`);
  }
  const base = transformBase(name, options.p);
  return Object.assign(base, {
    sample(rng: Rng): ColorJitterParams {
      const s = base.strength;
      return {
        brightness: factor(rng, amounts.brightness * s),
        contrast: factor(rng, amounts.contrast * s),
        saturation: factor(rng, amounts.saturation * s),
        hue: amounts.hue * s > 0 ? rng.uniform(-amounts.hue * s, amounts.hue * s) : 0,
      };
    },
    apply: applyColorJitter,
    applyToFloat32: colorJitterInto,
    colorMap: jitterColorMap,
  });
}

/** Options of the single-component jitters {@link brightness}, {@link contrast}, {@link saturation}, {@link hue}. */
export interface JitterAmountOptions {
  /** The amount, as in {@link ColorJitterOptions}. Defaults to 0.2 (hue: 0.05). */
  amount?: number;
  /** Defaults to 1. */
  p?: number;
}

const only = (key: keyof ColorJitterParams, options: JitterAmountOptions, fallback: number): Required<ColorJitterOptions> => ({
  brightness: 0,
  contrast: 0,
  saturation: 0,
  hue: 0,
  [key]: options.amount ?? fallback,
  p: options.p ?? 1,
});

/**
 * Multiplies the pixels by a factor uniform in [1 − amount, 1 + amount].
 * @example
 * ```ts
 * brightness({ amount: 0.3 }).apply(raw, { brightness: 1.2, contrast: 1, saturation: 1, hue: 0 });
 * ```
 */
export function brightness(options: JitterAmountOptions = {}): ImageTransform<ColorJitterParams> {
  return jitter('brightness', only('brightness', options, 0.2));
}
/**
 * Blends with the image's mean grey by a factor uniform in [1 − amount, 1 + amount].
 * @example
 * ```ts
 * const flatter = contrast({ amount: 0.3 });
 * ```
 */
export function contrast(options: JitterAmountOptions = {}): ImageTransform<ColorJitterParams> {
  return jitter('contrast', only('contrast', options, 0.2));
}
/**
 * Blends each pixel with its grey by a factor uniform in [1 − amount, 1 + amount].
 * @example
 * ```ts
 * const vivid = saturation({ amount: 0.5 });
 * ```
 */
export function saturation(options: JitterAmountOptions = {}): ImageTransform<ColorJitterParams> {
  return jitter('saturation', only('saturation', options, 0.2));
}
/**
 * Rotates the chroma by up to ±amount turns (amount ≤ 0.5).
 * @example
 * ```ts
 * const tint = hue({ amount: 0.05 });
 * ```
 */
export function hue(options: JitterAmountOptions = {}): ImageTransform<ColorJitterParams> {
  return jitter('hue', only('hue', options, 0.05));
}

/** Options of {@link gaussianNoise}. */
export interface GaussianNoiseOptions {
  /** Largest standard deviation in pixel units (0–255); the std is uniform in [0, std × strength]. Defaults to 10. */
  std?: number;
  /** Defaults to 0.5. */
  p?: number;
}

/** Parameters of {@link gaussianNoise}: the std and the seed of the noise field (so a replay is exact). */
export interface GaussianNoiseParams {
  readonly std: number;
  readonly seed: number;
}

/**
 * Adds independent normal noise to every pixel value, then rounds and clips to [0, 255]. The noise
 * field comes from a recorded seed, so the record stays small and replays exactly.
 *
 * @example
 * ```ts
 * const grain = gaussianNoise({ std: 8, p: 0.3 });
 * ```
 */
export function gaussianNoise(options: GaussianNoiseOptions = {}): ImageTransform<GaussianNoiseParams> {
  const std = checkAtLeast('gaussianNoise: std', options.std ?? 10, 0);
  const base = transformBase('gaussianNoise', options.p ?? 0.5);
  return Object.assign(base, {
    sample: (rng: Rng): GaussianNoiseParams => ({
      std: std * base.strength > 0 ? rng.uniform(0, std * base.strength) : 0,
      seed: rng.int(0, 0x7fff_ffff),
    }),
    apply(image: RawImage, params: GaussianNoiseParams): RawImage {
      if (params.std === 0) return image;
      const noise = createRng(params.seed);
      const out = new Uint8Array(image.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = image.data[i]! + noise.normal(0, params.std) + 0.5;
        out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v | 0;
      }
      return { ...image, data: out };
    },
  });
}

/** Options of {@link blur}. */
export interface BlurOptions {
  /** Largest Gaussian sigma in pixels; sigma is uniform in [0, sigma × strength]. Defaults to 1.5. */
  sigma?: number;
  /** Defaults to 0.5. */
  p?: number;
}

/** A separable Gaussian blur with edge pixels repeated; sigma 0 returns the image unchanged. */
export function applyGaussianBlur(image: RawImage, sigma: number): RawImage {
  if (sigma <= 0) return image;
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, v) => a + v, 0);
  const weights = kernel.map((v) => v / total);
  const { width, height, channels } = image;
  const pass = (source: Float32Array | Uint8Array, horizontal: boolean): Float32Array => {
    const out = new Float32Array(source.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let k = 0; k < channels; k++) {
          let sum = 0;
          for (let t = -radius; t <= radius; t++) {
            const xx = horizontal ? Math.min(width - 1, Math.max(0, x + t)) : x;
            const yy = horizontal ? y : Math.min(height - 1, Math.max(0, y + t));
            sum += weights[t + radius]! * source[(yy * width + xx) * channels + k]!;
          }
          out[(y * width + x) * channels + k] = sum;
        }
      }
    }
    return out;
  };
  const blurred = pass(pass(image.data, true), false);
  const data = new Uint8Array(blurred.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.round(blurred[i]!));
  return { ...image, data };
}

/**
 * Gaussian blur with a random sigma.
 *
 * @example
 * ```ts
 * const soft = blur({ sigma: 2, p: 0.2 });
 * ```
 */
export function blur(options: BlurOptions = {}): ImageTransform<{ readonly sigma: number }> {
  const sigma = checkAtLeast('blur: sigma', options.sigma ?? 1.5, 0);
  const base = transformBase('blur', options.p ?? 0.5);
  return Object.assign(base, {
    sample: (rng: Rng): { readonly sigma: number } => ({ sigma: sigma * base.strength > 0 ? rng.uniform(0, sigma * base.strength) : 0 }),
    apply: (image: RawImage, params: { readonly sigma: number }): RawImage => applyGaussianBlur(image, params.sigma),
  });
}


