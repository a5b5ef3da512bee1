import type { Rng } from '@convkit/core';
import { fuseBatchGeometry, isFloatBatch } from './batch-transforms.js';
import { composeAffine, isRawImage, warpAffine } from './warp.js';
import type { AffineMap, ImageShape, RawImage, Recorded, Transform } from './transform.js';
import { applyRecorded, checkPositiveInteger, checkUnit, recordedShape, sampleTransform, shapeOf } from './transform.js';

/** A container of transforms: itself a transform, plus replay helpers. */
export interface Container<I> extends Transform<I> {
  readonly children: readonly Transform<I>[];
  /** Samples the whole tree (chance included) for an input of `shape` (or for `image`'s shape). */
  sampleAll(rng: Rng, shape: ImageShape | RawImage): Recorded;
  /** Applies a record made by `sampleAll`: the same record gives the same output, always. */
  applyRecorded(image: I, record: Recorded): I;
  /** Samples and applies in one call; returns the output and the record that replays it. */
  run(image: I, rng: Rng, shape?: ImageShape): { image: I; record: Recorded };
}

/** Options shared by the containers. */
export interface ContainerOptions {
  /** Probability that the container applies at all. Defaults to 1 (`sequential`: 0.5). */
  p?: number;
  /** The container's name in records. Defaults to the container kind (`'compose'`, `'oneOf'`, …). */
  name?: string;
}

/** A container's params: the record of each child it sampled, by index. */
export type Plan = { index: number; record: Recorded }[];

function toShape(shape: ImageShape | RawImage): ImageShape {
  return 'data' in shape ? shapeOf(shape) : shape;
}

/** Throws unless `record` belongs to `child`. */
function checkRecord<I>(child: Transform<I>, record: Recorded): void {
  if (record.name !== child.name) {
    throw new Error(`record must belong to transform "${child.name}" (received a record of "${record.name}")`);
  }
}

/**
 * The applied steps of `plan` from `start` on whose transform `joins`, up to the first applied step whose transform
 * does not (steps that did not apply are passed over, their records checked too), and the plan index where the run ends.
 */
function appliedRun<I>(
  children: readonly Transform<I>[],
  plan: Plan,
  start: number,
  joins: (child: Transform<I>) => boolean
): { steps: { child: Transform<I>; record: Recorded }[]; end: number } {
  const steps: { child: Transform<I>; record: Recorded }[] = [];
  let end = start;
  for (; end < plan.length; end++) {
    const { index, record } = plan[end]!;
    const child = children[index]!;
    checkRecord(child, record);
    if (!record.applied) continue;
    if (!joins(child)) break;
    steps.push({ child, record });
  }
  return { steps, end };
}

/**
 * Applies children in order, fusing runs of consecutive affine warps on raw images into one resampling, and runs of
 * two or more geometric batch steps (`batchMatrices`) on a float32 batch tensor into one `tf.image.transform` call
 * (a run of flips alone stays exact, step by step).
 */
export function applyPlan<I>(children: readonly Transform<I>[], image: I, plan: Plan, initial?: AffineMap): I {
  let current = image;
  let pending: AffineMap | undefined = initial;
  const flush = (): void => {
    if (pending === undefined) return;
    current = warpAffine(current as unknown as RawImage, pending) as unknown as I;
    pending = undefined;
  };
  for (let k = 0; k < plan.length; k++) {
    const { index, record } = plan[k]!;
    const child = children[index]!;
    checkRecord(child, record);
    if (!record.applied) continue;
    if (child.batchMatrices !== undefined && isFloatBatch(current)) {
      const run = appliedRun(children, plan, k, (step) => step.batchMatrices !== undefined);
      const fused = run.steps.length >= 2 ? fuseBatchGeometry(current, run.steps) : undefined;
      if (fused !== undefined) {
        current = fused as unknown as I;
        k = run.end - 1;
        continue;
      }
    }
    if (child.affine !== undefined && isRawImage(current)) {
      const shape: ImageShape =
        pending === undefined ? shapeOf(current) : { height: pending.height, width: pending.width, channels: current.channels };
      const map = child.affine(shape, record.params);
      pending = pending === undefined ? map : composeAffine(pending, map);
      continue;
    }
    flush();
    current = applyRecorded(child, current, record);
  }
  flush();
  return current;
}

/**
 * Splits `plan` into its leading run of geometric (affine) steps, composed into one inverse map onto
 * `initial` (the map of the decoded image, when it was decoded at another size), and the steps after
 * it. `applyPlan(children, warpAffine(image, map), rest)` is then `applyPlan(children, image, plan, initial)`,
 * byte for byte. `map` is `initial` (or undefined) when the plan starts with a non-geometric step.
 */
export function leadingAffine<I>(
  children: readonly Transform<I>[],
  shape: ImageShape,
  plan: Plan,
  initial?: AffineMap
): { map: AffineMap | undefined; rest: Plan } {
  let pending = initial;
  const run = appliedRun(children, plan, 0, (child) => child.affine !== undefined);
  for (const { child, record } of run.steps) {
    const current: ImageShape = pending === undefined ? shape : { height: pending.height, width: pending.width, channels: shape.channels };
    const map = child.affine!(current, record.params);
    pending = pending === undefined ? map : composeAffine(pending, map);
  }
  return { map: pending, rest: plan.slice(run.end) };
}

/**
 * Writes `applyPlan(children, image, plan)` times `scale` into `out` from `offset`: the same float32
 * values as converting the result, but when the last applied step can write floats itself
 * (`applyToFloat32`, as the colour jitters do), it does so in the same pass. Returns the number of values written.
 */
export function applyPlanToFloat32<I extends RawImage>(
  children: readonly Transform<I>[],
  image: I,
  plan: Plan,
  out: Float32Array,
  offset: number,
  scale: number
): number {
  let last = plan.length - 1;
  while (last >= 0 && !plan[last]!.record.applied) last--;
  const step = last >= 0 ? plan[last]! : undefined;
  const child = step === undefined ? undefined : children[step.index]!;
  if (child?.applyToFloat32 !== undefined && child.affine === undefined && child.name === step!.record.name) {
    const before = applyPlan(children, image, plan.slice(0, last));
    applyPlan(children, before, plan.slice(last + 1)); // checks the names of the unapplied rest
    return child.applyToFloat32(before, step!.record.params, out, offset, scale);
  }
  return copyScaled(applyPlan(children, image, plan).data, out, offset, scale);
}

/** Writes `data[k] × scale` into `out` from `offset`; returns `data.length`. */
export function copyScaled(data: Uint8Array, out: Float32Array, offset: number, scale: number): number {
  const size = data.length;
  for (let k = 0; k < size; k++) out[offset + k] = data[k]! * scale;
  return size;
}

function planShape<I>(children: readonly Transform<I>[], shape: ImageShape, plan: Plan): ImageShape {
  let current = shape;
  for (const { index, record } of plan) current = recordedShape(children[index]!, current, record);
  return current;
}

function container<I>(
  kind: string,
  transforms: readonly Transform<I>[],
  options: ContainerOptions,
  defaultP: number,
  choose: (rng: Rng, shape: ImageShape, children: readonly Transform<I>[]) => Plan
): Container<I> {
  if (!Array.isArray(transforms) || transforms.some((t) => typeof t?.sample !== 'function')) {
    throw new Error(`${kind}: transforms must be an array of transforms (received ${String(transforms)})`);
  }
  const children = [...transforms];
  const name = options.name ?? kind;
  let p = checkUnit(`${name}: p`, options.p ?? defaultP);
  let strength = 1;
  const self: Container<I> = {
    name,
    children,
    get p(): number {
      return p;
    },
    set p(value: number) {
      p = checkUnit(`${name}: p`, value);
    },
    get strength(): number {
      return strength;
    },
    set strength(value: number) {
      strength = checkUnit(`${name}: strength`, value);
      for (const child of children) child.strength = value;
    },
    sample: (rng, shape) => choose(rng, shape, children),
    apply: (image, params) => applyPlan(children, image, params as Plan),
    outputShape: (shape, params) => planShape(children, shape, params as Plan),
    sampleAll: (rng, shape) => sampleTransform(self, rng, toShape(shape)),
    applyRecorded: (image, record) => applyRecorded(self, image, record),
    run(image, rng, shape) {
      const record = sampleTransform(self, rng, shape ?? toShape(image as unknown as RawImage));
      return { image: applyRecorded(self, image, record), record };
    },
  };
  return self;
}

/** Samples children in order, each with its own chance, following the shape through. */
function inOrder<I>(rng: Rng, shape: ImageShape, children: readonly Transform<I>[], indices: readonly number[]): Plan {
  const plan: Plan = [];
  let current = shape;
  for (const index of indices) {
    const child = children[index]!;
    const record = sampleTransform(child, rng, current);
    current = recordedShape(child, current, record);
    plan.push({ index, record });
  }
  return plan;
}

/**
 * Applies every transform in order, each with its own probability (albumentations `Compose`).
 *
 * Why: the usual pipeline. Consecutive geometric transforms (crop, flips, rotations, shifts) on raw
 * images are fused into one affine resampling, which is both faster and sharper than resampling
 * once per transform. Setting `strength` sets it on every child.
 *
 * @param transforms - The children, applied in order.
 * @param options - `p` (defaults to 1) and `name` (defaults to `'compose'`).
 * @returns A container transform; `sampleAll(rng, shape)` records every draw and `applyRecorded`
 *   replays it.
 *
 * @example
 * ```ts
 * const pipeline = compose([horizontalFlip({ p: 0.5 }), rotate({ degrees: 15 })]);
 * const { image, record } = pipeline.run(raw, new Rng(0));
 * pipeline.applyRecorded(raw, record); // the same bytes as image
 * ```
 */
export function compose<I>(transforms: readonly Transform<I>[], options: ContainerOptions = {}): Container<I> {
  return container('compose', transforms, options, 1, (rng, shape, children) =>
    inOrder(rng, shape, children, children.map((_, i) => i))
  );
}

/**
 * Like {@link compose}, but meant as a child of another container, with `p` defaulting to 0.5
 * (albumentations `Sequential`).
 *
 * @example
 * ```ts
 * const maybeBoth = sequential([verticalFlip({ p: 1 }), gaussianNoise({ std: 10 })], { p: 0.3 });
 * ```
 */
export function sequential<I>(transforms: readonly Transform<I>[], options: ContainerOptions = {}): Container<I> {
  return container('sequential', transforms, options, 0.5, (rng, shape, children) =>
    inOrder(rng, shape, children, children.map((_, i) => i))
  );
}

/**
 * Applies exactly one of the transforms, picked with the children's `p` as weights (albumentations
 * `OneOf`); the picked one always applies. When every weight is 0, none applies.
 *
 * @example
 * ```ts
 * const blurOrNoise = oneOf([blur({ radius: 1, p: 3 / 4 }), gaussianNoise({ std: 8, p: 1 / 4 })]);
 * ```
 */
export function oneOf<I>(transforms: readonly Transform<I>[], options: ContainerOptions = {}): Container<I> {
  return container('oneOf', transforms, options, 1, (rng, shape, children) => {
    const total = children.reduce((sum, child) => sum + child.p, 0);
    if (total <= 0) return [];
    let target = rng.next() * total;
    let index = children.length - 1;
    for (let i = 0; i < children.length; i++) {
      target -= children[i]!.p;
      if (target < 0 && children[i]!.p > 0) {
        index = i;
        break;
      }
    }
    const child = children[index]!;
    return [{ index, record: { name: child.name, applied: true, params: child.sample(rng, shape) } }];
  });
}

/** Options of {@link someOf}. */
export interface SomeOfOptions extends ContainerOptions {
  /** How many children to pick (uniformly, without replacement), each then applied with its own `p`. */
  n: number;
}

/**
 * Picks `n` of the transforms uniformly without replacement, then applies each with its own `p`, in
 * the order given (albumentations `SomeOf`). Throws when `n` exceeds the number of transforms.
 *
 * @example
 * ```ts
 * const twoOfThree = someOf([brightness({ amount: 0.2 }), contrast({ amount: 0.2 }), hue({ amount: 0.05 })], { n: 2 });
 * ```
 */
export function someOf<I>(transforms: readonly Transform<I>[], options: SomeOfOptions): Container<I> {
  const n = checkPositiveInteger('someOf: n', options?.n);
  if (n > transforms.length) {
    throw new Error(`someOf: n must be at most the number of transforms ${transforms.length} (received ${n})`);
  }
  return container('someOf', transforms, options, 1, (rng, shape, children) => {
    const picked = Array.from(rng.permutation(children.length).subarray(0, n)).sort((a, b) => a - b);
    return inOrder(rng, shape, children, picked);
  });
}
