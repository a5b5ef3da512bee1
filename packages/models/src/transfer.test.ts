import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { discriminativeParamGroups, freeze, layerGroups, replaceHead, smallConvNet, smallResNet, unfreeze } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny = (): tf.LayersModel => smallConvNet({ inputShape: [6, 6, 1], numClasses: 3, filters: [2, 3], dense: [4], seed: 1 });
const names = (layers: readonly tf.layers.Layer[]): string[] => layers.map((l) => l.name);
const weightNames = (model: tf.LayersModel): string[] => model.trainableWeights.map((w) => w.originalName);

describe('layerGroups', () => {
  it("splits a builder's model into backbone and the 'head…' layers", async () => {
    await expectNoLeak(() => {
      const model = tiny();
      const [backbone, head] = layerGroups(model);
      expect(backbone?.name).toBe('backbone');
      expect(names(backbone?.layers ?? [])).toEqual(['conv_1', 'act_1', 'pool_1', 'conv_2', 'act_2', 'pool_2', 'flatten']);
      expect(names(head?.layers ?? [])).toEqual(['head_dense_1', 'head_act_1', 'head_logits']);
      model.dispose();
    });
  });

  it('splits at indices or names, and puts the head after the last flatten when no layer is named head…', async () => {
    await expectNoLeak(() => {
      const model = tiny();
      const groups = layerGroups(model, { splits: [3, 'flatten'] });
      expect(groups.map((g) => g.name)).toEqual(['group1', 'group2', 'group3']);
      expect(names(groups[1]?.layers ?? [])).toEqual(['conv_2', 'act_2', 'pool_2']);
      expect(() => layerGroups(model, { splits: ['flatten', 3] })).toThrow('splits must be in increasing model order');
      expect(() => layerGroups(model, { splits: ['nope'] })).toThrow("splits[0] must name a layer of the model (received 'nope')");
      const keras = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: 'c1' }),
        tf.layers.flatten({ name: 'f' }),
        tf.layers.dense({ units: 3, name: 'fc1' }),
        tf.layers.dense({ units: 2, name: 'predictions' }),
      ] });
      expect(names(layerGroups(keras)[1]?.layers ?? [])).toEqual(['fc1', 'predictions']);
      model.dispose();
      keras.dispose();
    });
  });
});

describe('freeze / unfreeze', () => {
  it('removes frozen layers from trainableWeights and unfreeze restores them', async () => {
    await expectNoLeak(() => {
      const model = tiny();
      const all = weightNames(model);
      expect(all.length).toBe(8);
      const changed = freeze(model, 'backbone');
      expect(names(changed)).toContain('conv_1');
      expect(model.getLayer('conv_1').trainable).toBe(false);
      expect(weightNames(model)).toEqual(['head_dense_1/kernel', 'head_dense_1/bias', 'head_logits/kernel', 'head_logits/bias']);
      // what the Learner trains: model.trainableWeights → variables
      expect(model.trainableWeights.map((w) => (w.read() as tf.Variable).trainable)).toEqual([true, true, true, true]);
      unfreeze(model, 'backbone');
      expect(weightNames(model)).toEqual(all);
      freeze(model, ['conv_2', model.getLayer('head_logits')]);
      expect(weightNames(model)).toEqual(['conv_1/kernel', 'conv_1/bias', 'head_dense_1/kernel', 'head_dense_1/bias']);
      expect(() => freeze(model, 'conv_9')).toThrow("target must be 'backbone', 'head' or a layer name of the model (received 'conv_9')");
      model.dispose();
    });
  });
});

describe('replaceHead', () => {
  it('reuses the backbone layers (same weights) and outputs the new number of classes', async () => {
    await expectNoLeak(() => {
      const model = tiny();
      freeze(model, 'backbone');
      const replaced = replaceHead(model, { numClasses: 7, hidden: [5] });
      expect(replaced.getLayer('conv_1')).toBe(model.getLayer('conv_1'));
      expect(replaced.getLayer('conv_2').getWeights()[0]?.dataSync()).toEqual(model.getLayer('conv_2').getWeights()[0]?.dataSync());
      expect(names(replaced.layers).slice(-3)).toEqual(['head_dense_1', 'head_act_1', 'head_logits']);
      expect(replaced.getLayer('head_logits').outputShape).toEqual([null, 7]);
      // frozen backbone stays frozen: only the new head trains
      expect(weightNames(replaced)).toEqual(['head_dense_1/kernel', 'head_dense_1/bias', 'head_logits/kernel', 'head_logits/bias']);
      // the backbone computes the same features in both models
      const [a, b] = tf.tidy(() => {
        const x = tf.randomNormal([2, 6, 6, 1], 0, 1, 'float32', 5);
        // the shared flatten layer has one node per model: 0 in the original, 1 in the replaced one
        const features = (m: tf.LayersModel, node: number): Float32Array =>
          (tf.model({ inputs: m.inputs, outputs: m.getLayer('flatten').getOutputAt(node) as tf.SymbolicTensor }).predict(x) as tf.Tensor).dataSync() as Float32Array;
        return [Array.from(features(model, 0)), Array.from(features(replaced, 1))];
      });
      expect(a.some((v) => v !== 0)).toBe(true);
      expect(b).toEqual(a);
      // disposing the new model leaves the original usable (shared layers are reference-counted)
      replaced.dispose();
      const shape = tf.tidy(() => (model.predict(tf.zeros([1, 6, 6, 1])) as tf.Tensor).shape);
      expect(shape).toEqual([1, 3]);
      model.dispose();
    });
  });

  it('follows a functional graph with residual branches', async () => {
    await expectNoLeak(() => {
      const model = smallResNet({ inputShape: [8, 8, 1], numClasses: 2, blocks: [1, 1], filters: [2, 4] });
      const replaced = replaceHead(model, { numClasses: 6 });
      const shape = tf.tidy(() => (replaced.predict(tf.zeros([3, 8, 8, 1])) as tf.Tensor).shape);
      expect(shape).toEqual([3, 6]);
      expect(replaced.getLayer('stage2_block1_add')).toBe(model.getLayer('stage2_block1_add'));
      expect(replaced.countParams()).toBe(model.countParams() - (4 + 1) * 2 + (4 + 1) * 6);
      model.dispose();
      replaced.dispose();
    });
    expect(() => replaceHead(smallResNet({ inputShape: [8, 8, 1], numClasses: 2 }), { numClasses: 0 })).toThrow('numClasses must be a positive integer (received 0)');
  });
});

describe('discriminativeParamGroups', () => {
  it('gives each group its trainable variables and rate base·factor^(n−1−i)', async () => {
    await expectNoLeak(() => {
      const model = tiny();
      const groups = layerGroups(model, { splits: ['conv_2', 'flatten'] });
      const paramGroups = discriminativeParamGroups(model, { groups, learningRates: { base: 0.1, factor: 0.1 } });
      expect(paramGroups.map((g) => g.hypers.learningRate)).toEqual([0.1 * 0.1 ** 2, 0.1 * 0.1, 0.1].map((r) => expect.closeTo(r, 12)) as unknown as number[]);
      expect(paramGroups[0]?.variables).toEqual(model.getLayer('conv_1').trainableWeights.map((w) => w.read()));
      // group3 starts at flatten: dense + logits
      expect(paramGroups[2]?.variables.length).toBe(4);
      expect(paramGroups[1]?.variables.map((v) => v.id)).toEqual(model.getLayer('conv_2').trainableWeights.map((w) => w.read().id));
      freeze(model, 'conv_1');
      const afterFreeze = discriminativeParamGroups(model, { groups, learningRates: [1e-4, 1e-3, 1e-2] });
      expect(afterFreeze.map((g) => g.hypers.learningRate)).toEqual([1e-3, 1e-2]);
      expect(afterFreeze.flatMap((g) => g.variables).length).toBe(6);
      expect(() => discriminativeParamGroups(model, { groups, learningRates: [1, 2] })).toThrow('learningRates must have one rate per group (3) (received [1,2])');
      expect(() => discriminativeParamGroups(model, { learningRates: { base: 1, factor: -1 } })).toThrow('learningRates.factor must be a finite number > 0 (received -1)');
      model.dispose();
    });
  });
});
