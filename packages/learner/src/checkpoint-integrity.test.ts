import { cpSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { checkpoint } from './checkpoint.js';
import { nodeFileSystem, type CheckpointFileSystem } from './checkpoint-io.js';
import { loadCheckpoint, loadCheckpointWeights } from './checkpoint-load.js';
import { weightKeys } from './checkpoint-weights.js';
import { Learner } from './learner.js';
import { scratchDirectories } from './scratch.test-helpers.js';

const scratch = scratchDirectories('integrity');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** conv backbone + dense head, auto-named (or named `prefix…` when given), seeded initial weights. */
function buildModel(names?: string): tf.Sequential {
  const name = (n: string): { name?: string } => (names === undefined ? {} : { name: `${names}${n}` });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), ...name('conv') }),
      tf.layers.flatten(name('flat')),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), ...name('mid') }),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), ...name('head') }),
    ],
  });
}

function data(): BatchSource {
  return {
    length: 2,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < 2; b++) {
        yield { x: tf.randomUniform([3, 4, 4, 1], 0, 1, 'float32', b), y: tf.tensor1d([0, 1, 3], 'int32') };
      }
    },
  };
}

/** Each layer's weights, by layer position (independent of the trainable-first order of `model.weights`). */
async function layerWeights(model: tf.LayersModel): Promise<number[][][]> {
  return Promise.all(model.layers.map((layer) => Promise.all(layer.getWeights().map(async (w) => Array.from(await w.data())))));
}

/** Trains `model` for one epoch with its first layers frozen (as `freeze` does), and saves a checkpoint. */
async function frozenSave(model: tf.LayersModel, dir: string, frozen: number[]): Promise<void> {
  for (const index of frozen) model.layers[index]!.trainable = false;
  const optimizer = tf.train.sgd(0.1);
  const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: data() });
  await learner.fit(1);
  await learner.saveCheckpoint(dir);
  optimizer.dispose();
}

describe('checkpoints keyed by weight name', () => {
  it('loads a checkpoint saved with a frozen backbone into an unfrozen copy (automatic names)', async () => {
    const before = tf.memory().numTensors;
    const dir = path.join(scratch(), 'frozen');
    const source = buildModel();
    await frozenSave(source, dir, [0]);
    // freeze moved the conv weights after the dense ones
    expect(source.weights[0]!.originalName).toMatch(/^dense_Dense\d+\/kernel$/);
    const expected = await layerWeights(source);
    const copy = buildModel();
    expect(copy.weights[0]!.originalName).toMatch(/^conv2d_Conv2D\d+\/kernel$/);
    await loadCheckpointWeights(copy, dir);
    expect(await layerWeights(copy)).toEqual(expected);
    source.dispose();
    copy.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches named layers of equal shapes by name, not position', async () => {
    const dir = path.join(scratch(), 'named');
    const source = buildModel('n_');
    await frozenSave(source, dir, [0, 2]); // "n_mid" (4×4, like "n_head") now comes after "n_head"
    const expected = await layerWeights(source);
    const copy = buildModel('n_');
    await loadCheckpointWeights(copy, dir);
    expect(await layerWeights(copy)).toEqual(expected);
    source.dispose();
    copy.dispose();
  });

  it('refuses missing and extra names, naming them, before writing anything', async () => {
    const dir = path.join(scratch(), 'names');
    const source = buildModel('a_');
    await frozenSave(source, dir, []);
    source.dispose();
    const other = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, padding: 'same', name: 'a_conv' }),
        tf.layers.flatten({ name: 'a_flat' }),
        tf.layers.dense({ units: 4, name: 'a_mid' }),
        tf.layers.dense({ units: 4, name: 'a_top' }),
      ],
    });
    const untouched = await layerWeights(other);
    await expect(loadCheckpointWeights(other, dir)).rejects.toThrow(
      `checkpoint ${dir} does not fit the model (weights are matched by name): the model's "a_top/kernel", "a_top/bias" ` +
        `are not in the checkpoint; the checkpoint's "a_head/kernel", "a_head/bias" have no counterpart in the model ` +
        '(the checkpoint holds 6 weights, the model 6)'
    );
    expect(await layerWeights(other)).toEqual(untouched);
    other.dispose();
  });

  it('keys automatic names by class and rank, numeric variable names by rank, and user names by name', () => {
    expect(weightKeys(['dense_Dense7/kernel', 'conv2d_Conv2D3/bias', 'dense_Dense12/kernel', 'head/kernel', '41', '9'])).toEqual([
      'Dense#1/kernel',
      'Conv2D#1/bias',
      'Dense#2/kernel',
      'head/kernel',
      '#2',
      '#1',
    ]);
    expect(weightKeys(['batch_normalization_BatchNormalization4/gamma'])).toEqual(['BatchNormalization#1/gamma']);
    expect(weightKeys(['dense_Conv2D1/kernel'])).toEqual(['dense_Conv2D1/kernel']); // not an automatic name
  });
});

describe('corrupt checkpoints', () => {
  async function saved(): Promise<{ dir: string; model: tf.LayersModel }> {
    const dir = path.join(scratch(), 'good');
    const model = buildModel();
    await frozenSave(model, dir, []);
    return { dir, model };
  }

  it('refuses a truncated weights file, an edited model.json and the weights of another model', async () => {
    const { dir, model } = await saved();
    const untouched = await layerWeights(model);
    const truncated = path.join(path.dirname(dir), 'truncated');
    cpSync(dir, truncated, { recursive: true });
    truncateSync(path.join(truncated, 'weights.bin'), 100);
    await expect(loadCheckpointWeights(model, truncated)).rejects.toThrow(
      `checkpoint ${truncated} is corrupt: weights.bin holds 100 bytes but model.json's manifest describes`
    );

    const edited = path.join(path.dirname(dir), 'edited');
    cpSync(dir, edited, { recursive: true });
    const json = JSON.parse(readFileSync(path.join(edited, 'model.json'), 'utf8'));
    json.weightsManifest[0].weights[0].shape = 'three';
    writeFileSync(path.join(edited, 'model.json'), JSON.stringify(json));
    await expect(loadCheckpointWeights(model, edited)).rejects.toThrow(
      `${path.join(edited, 'model.json')} is corrupt: each weight must have a name, a dtype and a shape`
    );
    writeFileSync(path.join(edited, 'model.json'), '{"weightsManifest": [');
    await expect(loadCheckpointWeights(model, edited)).rejects.toThrow('model.json is not valid JSON (truncated or edited?)');

    const swapped = path.join(path.dirname(dir), 'swapped');
    cpSync(dir, swapped, { recursive: true });
    const small = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
    const smallDir = path.join(path.dirname(dir), 'small');
    const optimizer = tf.train.sgd(0.1);
    await new Learner({ model: small, loss: 'meanSquaredError', optimizer, train: [] as Batch[] }).saveCheckpoint(smallDir);
    cpSync(path.join(smallDir, 'weights.bin'), path.join(swapped, 'weights.bin'));
    await expect(loadCheckpointWeights(model, swapped)).rejects.toThrow(`checkpoint ${swapped} is corrupt: weights.bin holds 12 bytes`);
    expect(await layerWeights(model)).toEqual(untouched);
    small.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('refuses a half-written directory and a manifest naming a checkpoint that is not there', async () => {
    const { dir, model } = await saved();
    const parent = path.dirname(dir);
    const half = path.join(parent, '.tmp-step-00000004-123-abcd');
    mkdirSync(half);
    cpSync(path.join(dir, 'state.json'), path.join(half, 'state.json'));
    await expect(loadCheckpoint(half)).rejects.toThrow(`${half} is a half-written checkpoint left by an interrupted save`);
    const partial = path.join(parent, 'partial');
    cpSync(dir, partial, { recursive: true });
    rmSync(path.join(partial, 'weights.bin'));
    await expect(loadCheckpoint(partial)).rejects.toThrow(`checkpoint ${partial} is incomplete: weights.bin is missing`);
    writeFileSync(path.join(parent, 'manifest.json'), JSON.stringify({ format: 'convkit-checkpoints', version: 1, latest: 'step-00000009', checkpoints: [] }));
    await expect(loadCheckpoint(parent)).rejects.toThrow(
      `${path.join(parent, 'manifest.json')} names "step-00000009" as the latest checkpoint, but ${path.join(parent, 'step-00000009')} has no state.json`
    );
    model.dispose();
  });
});

describe('checkpoint writes survive power loss', () => {
  it('fsyncs every file and the temporary directory before the rename, then the parent directory', async () => {
    const calls: string[] = [];
    const root = scratch();
    // a temporary name is `.tmp-<name>-<pid>-<8 hex digits>`; keep `.tmp-<name>`
    const clean = (file: string): string => path.relative(root, file).replace(/\.tmp-(.+)-\d+-[0-9a-f]{8}(?=\/|$)/, '.tmp-$1') || '.';
    const recording: CheckpointFileSystem = {
      ...nodeFileSystem,
      writeFileSynced: async (file, bytes) => {
        calls.push(`write+fsync ${clean(file)}`);
        await nodeFileSystem.writeFileSynced(file, bytes);
      },
      syncDirectory: async (directory) => {
        calls.push(`fsync dir ${clean(directory)}`);
        await nodeFileSystem.syncDirectory(directory);
      },
      rename: async (from, to) => {
        calls.push(`rename ${clean(from)} → ${clean(to)}`);
        await nodeFileSystem.rename(from, to);
      },
    };
    const model = buildModel();
    const optimizer = tf.train.sgd(0.1);
    const learner = new Learner({
      model,
      loss: 'softmaxCrossEntropy',
      optimizer,
      train: data(),
      plugins: [checkpoint({ dir: root, every: { epochs: 1 }, fileSystem: recording })],
    });
    await learner.fit(1);
    expect(calls).toEqual([
      'write+fsync .tmp-step-00000002/weights.bin',
      'write+fsync .tmp-step-00000002/model.json',
      'write+fsync .tmp-step-00000002/state.json',
      'fsync dir .tmp-step-00000002',
      'rename .tmp-step-00000002 → step-00000002',
      'fsync dir .',
      'write+fsync .tmp-manifest.json',
      'rename .tmp-manifest.json → manifest.json',
      'fsync dir .',
    ]);
    expect((await loadCheckpoint(root)).state.position.step).toBe(2);
    optimizer.dispose();
    model.dispose();
  });
});
