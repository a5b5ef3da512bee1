import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng, registerWasmGradientKernels, type Rng, type RngState } from '@convkit/core';
import { availableBackends, withBackend } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { checkpoint } from './checkpoint.js';
import { nodeFileSystem, type CheckpointFileSystem } from './checkpoint-io.js';
import { loadCheckpoint, loadCheckpointModel, loadCheckpointWeights } from './checkpoint-load.js';
import type { History } from './history.js';
import { Learner } from './learner.js';
import type { Plugin } from './plugin.js';
import { scratchDirectories } from './scratch.test-helpers.js';

const scratch = scratchDirectories('checkpoint');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface SourceState {
  epoch: number;
  position: number;
  rng: RngState;
}

/**
 * A data loader in miniature: 22 images 4×4×1 of 3 classes, a fresh seeded order each epoch and random noise
 * ("augmentation") drawn per batch, with getState/setState like @convkit/data's DataLoader.
 */
class ShuffledSource {
  readonly length = 5;
  private readonly rng: Rng;
  private epochStart: RngState;
  private epoch = 0;
  private position = 0;
  private readonly images: Float32Array;
  private readonly labels: Int32Array;

  constructor(seed: number) {
    this.rng = createRng(seed);
    const data = createRng(99);
    this.images = Float32Array.from({ length: 22 * 16 }, () => data.uniform(0, 1));
    this.labels = Int32Array.from({ length: 22 }, (_, i) => i % 3);
    this.epochStart = this.rng.getState();
  }

  *[Symbol.iterator](): Iterator<Batch> {
    this.rng.setState(this.epochStart);
    const order = this.rng.permutation(22);
    const noise = this.rng.fork();
    const after = this.rng.getState();
    for (let b = 0; b < this.length; b++) {
      const draws = Array.from({ length: 5 * 16 }, () => noise.normal(0, 0.1));
      if (b < this.position) continue;
      const rows = Array.from(order.subarray(b * 5, b * 5 + 5));
      const x = rows.flatMap((r, i) => Array.from(this.images.subarray(r * 16, r * 16 + 16), (v, k) => v + draws[i * 16 + k]!));
      this.position = b + 1;
      if (this.position === this.length) {
        this.epoch++;
        this.position = 0;
        this.epochStart = after;
      }
      yield { x: tf.tensor4d(x, [rows.length, 4, 4, 1]), y: tf.tensor1d(rows.map((r) => this.labels[r]!), 'int32') };
    }
  }

  getState(): SourceState {
    return { epoch: this.epoch, position: this.position, rng: this.epochStart };
  }

  setState(state: SourceState): void {
    this.epoch = state.epoch;
    this.position = state.position;
    this.epochStart = state.rng;
  }
}

/** A plugin with random, stateful behaviour: it jitters the learning rate from its own fork of ctx.rng. */
function jitter(): Plugin {
  let rng: Rng | undefined;
  let base = 0;
  return {
    name: 'jitter',
    order: 10,
    writes: ['hyper.learningRate'],
    beforeFit(ctx) {
      rng = ctx.rng.fork();
      base = ctx.hypers.learningRate!;
    },
    beforeBatch(ctx) {
      ctx.hypers.learningRate = base * rng!.uniform(0.5, 1.5);
    },
    // `base` is not saved: like the schedulers, the plugin reads the optimizer's initial rate in beforeFit, which a
    // resumed fit must show it as in the original run.
    getState: () => ({ rng: rng?.getState() ?? null }),
    setState(state) {
      const saved = state as { rng: RngState | null };
      if (saved.rng !== null) rng!.setState(saved.rng);
    },
  };
}

function buildModel(filters = 4): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

interface Run {
  learner: Learner;
  model: tf.LayersModel;
  dispose(): void;
}

function makeRun(plugins: Plugin[] = [], model: tf.LayersModel = buildModel()): Run {
  const learner = new Learner({
    model,
    loss: 'softmaxCrossEntropy',
    optimizer: tf.train.momentum(0.05, 0.9),
    train: new ShuffledSource(7),
    seed: 3,
    plugins: [jitter(), ...plugins],
  });
  return { learner, model, dispose: () => (learner.optimizer.dispose(), model.dispose()) };
}

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.weights.map(async (w) => (await w.read().data()) as Float32Array));
}

function crashAt(step: number): Plugin {
  return { name: 'crash', order: 90, afterBatch(ctx) { if (ctx.step + 1 === step) throw new Error('simulated crash'); } };
}

const stepLosses = (history: History): number[] => history.steps.map((s) => s.loss);

describe.each(availableBackends())('resume on %s', (backend) => {
  it('continues mid-epoch, at an epoch end and after an epoch to weights equal bit for bit to an uninterrupted run', async () => {
    await withBackend(backend, async () => {
      if (backend === 'wasm') registerWasmGradientKernels();
      const before = tf.memory().numTensors;
      const reference = makeRun();
      const full = await reference.learner.fit(3);
      const expected = await weightsOf(reference.model);
      reference.dispose();

      const dir = scratch();
      const crashed = makeRun([checkpoint({ dir, every: { steps: 1 }, keepLast: 100 }), crashAt(12)]);
      await expect(crashed.learner.fit(3)).rejects.toThrow('simulated crash');
      crashed.dispose();
      // step 3: mid-epoch 0; step 5: the last batch of epoch 0; step 7: mid-epoch 1; step 11: epoch 2's first batch.
      for (const step of [3, 5, 7, 11]) {
        const resumed = makeRun([], buildModel());
        const history = await resumed.learner.fit(3, { resume: path.join(dir, `step-${String(step).padStart(8, '0')}`) });
        const actual = await weightsOf(resumed.model);
        resumed.dispose();
        actual.forEach((values, i) => expect(values).toEqual(expected[i]));
        expect(stepLosses(history)).toEqual(stepLosses(full));
        expect(history.epochs.map((e) => e.train.loss)).toEqual(full.epochs.map((e) => e.train.loss));
        expect(history.steps.map((s) => s.hypers.learningRate)).toEqual(full.steps.map((s) => s.hypers.learningRate));
      }
      // The crash came after the save of step 12 (the checkpoint plugin runs first): the manifest's latest.
      const latest = await loadCheckpoint(dir);
      expect(latest.state.position).toMatchObject({ epoch: 2, batch: 2, step: 12, fitStep: 12, epochs: 3 });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

describe('resume with a plain source and a FunctionModel', () => {
  function linearRun(): { learner: Learner; variables: tf.Variable[]; dispose(): void } {
    const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.5], [-0.25]])));
    const b = tf.tidy(() => tf.variable(tf.zeros([1])));
    const rows = [[1, 2], [0.5, -1], [2, 0], [-1, 1], [3, 1], [0, 0.5], [1.5, -2]];
    // A plain re-iterable source: the same batches every epoch, no getState, so the loop skips the done ones.
    const train: BatchSource = {
      length: 4,
      *[Symbol.iterator](): Iterator<Batch> {
        for (let i = 0; i < rows.length; i += 2) {
          const slice = rows.slice(i, i + 2);
          yield { x: tf.tensor2d(slice), y: tf.tensor2d(slice.map(([p, q]) => [3 * p! - q! + 0.5])) };
        }
      },
    };
    const learner = new Learner({
      model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
      loss: 'meanSquaredError',
      optimizer: tf.train.adam(0.05),
      train,
    });
    return { learner, variables: [w, b], dispose: () => (learner.optimizer.dispose(), w.dispose(), b.dispose()) };
  }

  it('skips the batches already done and restores Adam\'s moments, to equal weights', async () => {
    const before = tf.memory().numTensors;
    const reference = linearRun();
    const full = await reference.learner.fit(3);
    const expected = await Promise.all(reference.variables.map((v) => v.data()));
    reference.dispose();
    const dir = scratch();
    const crashed = linearRun();
    await expect(crashed.learner.fit(3, { plugins: [checkpoint({ dir, every: { steps: 3 } }), crashAt(7)] })).rejects.toThrow('simulated crash');
    crashed.dispose();
    expect((await loadCheckpoint(dir)).state.position).toMatchObject({ epoch: 1, batch: 2, step: 6 });
    const resumed = linearRun();
    const history = await resumed.learner.fit(3, { resume: dir });
    expect(await Promise.all(resumed.variables.map((v) => v.data()))).toEqual(expected);
    expect(stepLosses(history)).toEqual(stepLosses(full));
    await expect(loadCheckpointModel(dir)).rejects.toThrow('holds the weights of a FunctionModel');
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('checkpoint plugin', () => {
  it('keeps the last K periodic checkpoints and the best by the monitored metric', async () => {
    const before = tf.memory().numTensors;
    const dir = scratch();
    const run = makeRun([checkpoint({ dir, every: { epochs: 1 }, keepLast: 2, monitor: 'train.loss', saveBest: true })]);
    const history = await run.learner.fit(4);
    run.dispose();
    const losses = history.epochs.map((e) => e.train.loss!);
    const bestEpoch = losses.indexOf(Math.min(...losses));
    const names = readdirSync(dir).sort();
    const manifest = (await loadCheckpoint(dir)).state;
    expect(manifest.position).toMatchObject({ epoch: 4, batch: 0, step: 20 });
    const kept = ['step-00000015', 'step-00000020'];
    const best = `step-${String((bestEpoch + 1) * 5).padStart(8, '0')}`;
    expect(names).toEqual([...new Set([...kept, best, 'manifest.json'])].sort());
    const bestState = await loadCheckpoint(dir, { which: 'best' });
    expect(bestState.state.history.epochs.at(-1)!.train.loss).toBe(losses[bestEpoch]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves the previous checkpoint readable when a save crashes half-way', async () => {
    const before = tf.memory().numTensors;
    const dir = scratch();
    let saves = 0;
    const failing: CheckpointFileSystem = {
      ...nodeFileSystem,
      async writeFileSynced(file, data) {
        if (path.basename(file) === 'state.json' && ++saves === 2) {
          await nodeFileSystem.writeFileSynced(file, typeof data === 'string' ? data.slice(0, 10) : data);
          throw new Error('disk died');
        }
        return nodeFileSystem.writeFileSynced(file, data);
      },
    };
    const run = makeRun([checkpoint({ dir, every: { steps: 2 }, fileSystem: failing })]);
    await expect(run.learner.fit(2)).rejects.toThrow('disk died');
    run.dispose();
    const survivor = await loadCheckpoint(dir);
    expect(survivor.state.position.step).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'step-00000002']);
    const resumed = makeRun();
    await resumed.learner.fit(2, { resume: dir });
    expect(resumed.learner.stepCount).toBe(10);
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options with errors naming them', () => {
    expect(() => checkpoint({ dir: '' })).toThrow('dir must be a non-empty path (received "")');
    expect(() => checkpoint({ dir: 'x', every: { steps: 0 } })).toThrow('every.steps must be a positive integer (received 0)');
    expect(() => checkpoint({ dir: 'x', every: { hours: 1 } as never })).toThrow('every must be { steps: n } or { epochs: n }');
    expect(() => checkpoint({ dir: 'x', keepLast: 1.5 })).toThrow('keepLast must be a positive integer (received 1.5)');
    expect(() => checkpoint({ dir: 'x', monitor: 'loss' })).toThrow('monitor must look like "valid.loss"');
  });

  it('names the monitored metric when the history lacks it', async () => {
    const before = tf.memory().numTensors;
    const run = makeRun([checkpoint({ dir: scratch(), monitor: 'valid.accuracy', saveBest: true })]);
    await expect(run.learner.fit(1)).rejects.toThrow('monitor "valid.accuracy" is not in the epoch\'s valid metrics (available: none)');
    run.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('models from checkpoints', () => {
  it('rebuilds a model from the saved files alone that predicts the same and trains further', async () => {
    const before = tf.memory().numTensors;
    const dir = scratch();
    const run = makeRun();
    await run.learner.fit(1);
    await run.learner.saveCheckpoint(path.join(dir, 'after-1'));
    const x = tf.tidy(() => tf.randomUniform([3, 4, 4, 1], 0, 1, 'float32', 5));
    const original = run.model.predict(x) as tf.Tensor;
    const rebuilt = await loadCheckpointModel(path.join(dir, 'after-1'));
    const again = rebuilt.predict(x) as tf.Tensor;
    expect(await again.data()).toEqual(await original.data());
    // Training the rebuilt model from the checkpoint matches the original run's second epoch exactly.
    await run.learner.fit(2, { resume: path.join(dir, 'after-1') });
    const other = makeRun([], rebuilt);
    await other.learner.fit(2, { resume: path.join(dir, 'after-1') });
    expect(await weightsOf(rebuilt)).toEqual(await weightsOf(run.model));
    tf.dispose([x, original, again]);
    other.dispose();
    run.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the first mismatched weight when loading into a model of another shape', async () => {
    const before = tf.memory().numTensors;
    const dir = scratch();
    const run = makeRun();
    await run.learner.saveCheckpoint(path.join(dir, 'start'));
    run.dispose();
    const wider = buildModel(6);
    const untouched = await weightsOf(wider);
    await expect(loadCheckpointWeights(wider, path.join(dir, 'start'))).rejects.toThrow(
      /weight "conv2d_Conv2D\d+\/kernel" expects shape \[3, 3, 1, 6\] but the checkpoint's "conv2d_Conv2D\d+\/kernel" has shape \[3, 3, 1, 4\]/
    );
    expect(await weightsOf(wider)).toEqual(untouched);
    const learner = makeRun([], wider);
    await expect(learner.learner.fit(1, { resume: path.join(dir, 'start') })).rejects.toThrow('expects shape [3, 3, 1, 6]');
    learner.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad paths and resume arguments with clear errors', async () => {
    const before = tf.memory().numTensors;
    const dir = scratch();
    await expect(loadCheckpoint(dir)).rejects.toThrow('found neither in');
    await expect(loadCheckpoint(dir, { which: 'first' as never })).rejects.toThrow('which must be "latest" or "best" (received "first")');
    const run = makeRun();
    await run.learner.fit(1);
    await run.learner.saveCheckpoint(path.join(dir, 'one'));
    await expect(run.learner.saveCheckpoint(path.join(dir, 'one'))).rejects.toThrow('directory must not exist yet');
    await expect(run.learner.fit(1, { resume: path.join(dir, 'one') })).rejects.toThrow(
      "epochs must exceed the checkpoint's epoch 1 when resuming (received 1)"
    );
    const early: Plugin = { name: 'early', async beforeBatch(ctx) { await ctx.learner.saveCheckpoint(path.join(dir, 'no')); } };
    await expect(run.learner.fit(1, { plugins: [early] })).rejects.toThrow('only in afterBatch or afterEpoch (called during beforeBatch)');
    run.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
