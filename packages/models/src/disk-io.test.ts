import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectNoLeak } from '@convkit/core/testing';
import { diskHandler, loadLayersModelFromDisk, replaceHead, saveLayersModelToDisk, smallConvNet, smallResNet } from './index.js';

let root = '';
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'convkit-models-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const tiny = (seed: number): tf.LayersModel => smallConvNet({ inputShape: [6, 6, 1], numClasses: 3, filters: [2], dense: [4], seed });

function predictions(model: tf.LayersModel, inputShape: number[]): number[] {
  return tf.tidy(() => Array.from((model.predict(tf.randomNormal(inputShape, 0, 1, 'float32', 7)) as tf.Tensor).dataSync()));
}

interface ModelJson { weightsManifest: { paths: string[]; weights: { name: string; shape: number[] }[] }[] }

describe('saveLayersModelToDisk / loadLayersModelFromDisk', () => {
  it('round-trips a sequential and a functional model with identical predictions', async () => {
    await expectNoLeak(async () => {
      for (const [name, model, shape] of [
        ['conv', tiny(1), [2, 6, 6, 1]],
        ['resnet', smallResNet({ inputShape: [8, 8, 1], numClasses: 2, blocks: [1, 1], filters: [2, 4] }), [2, 8, 8, 1]],
      ] as const) {
        const dir = join(root, name);
        const result = await saveLayersModelToDisk(model, dir);
        expect(result.modelArtifactsInfo.weightDataBytes).toBe(model.countParams() * 4);
        expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
        const loaded = await loadLayersModelFromDisk(join(dir, 'model.json'));
        expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
        expect(predictions(loaded, [...shape])).toEqual(predictions(model, [...shape]));
        model.dispose();
        loaded.dispose();
      }
    });
  });

  it('replaces an existing model atomically and leaves no temporary folders', async () => {
    await expectNoLeak(async () => {
      const dir = join(root, 'overwrite');
      const first = tiny(1);
      const second = tiny(2);
      await saveLayersModelToDisk(first, dir);
      await saveLayersModelToDisk(second, dir);
      const loaded = await loadLayersModelFromDisk(dir);
      expect(predictions(loaded, [1, 6, 6, 1])).toEqual(predictions(second, [1, 6, 6, 1]));
      expect(predictions(loaded, [1, 6, 6, 1])).not.toEqual(predictions(first, [1, 6, 6, 1]));
      expect((await readdir(root)).filter((entry) => entry.includes('.tmp-') || entry.includes('.old-'))).toEqual([]);
      [first, second, loaded].forEach((m) => m.dispose());
    });
  });

  it('loads a converter-style model with several shards as a backbone for replaceHead', async () => {
    await expectNoLeak(async () => {
      const dir = join(root, 'sharded');
      const model = tiny(3);
      await model.save(diskHandler(dir));
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
      const bytes = await readFile(join(dir, 'weights.bin'));
      await writeFile(join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, 40));
      await writeFile(join(dir, 'group1-shard2of2.bin'), bytes.subarray(40));
      await unlink(join(dir, 'weights.bin'));
      (json.weightsManifest[0] as { paths: string[] }).paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      const backbone = await loadLayersModelFromDisk(dir);
      expect(predictions(backbone, [1, 6, 6, 1])).toEqual(predictions(model, [1, 6, 6, 1]));
      const transferred = replaceHead(backbone, { numClasses: 5 });
      expect(transferred.getLayer('conv_1').getWeights()[0]?.dataSync()).toEqual(model.getLayer('conv_1').getWeights()[0]?.dataSync());
      [model, backbone, transferred].forEach((m) => m.dispose());
    });
  });

  it('names the missing model.json, the missing shard and a shape mismatch', async () => {
    await expectNoLeak(async () => {
      await expect(loadLayersModelFromDisk(join(root, 'nothing-here'))).rejects.toThrow(/model\.json not found: .*nothing-here.model\.json does not exist/);
      const model = tiny(4);
      const missing = join(root, 'missing-shard');
      await saveLayersModelToDisk(model, missing);
      await unlink(join(missing, 'weights.bin'));
      await expect(loadLayersModelFromDisk(missing)).rejects.toThrow("weights shard './weights.bin' listed in");

      const truncated = join(root, 'truncated');
      await saveLayersModelToDisk(model, truncated);
      const bytes = await readFile(join(truncated, 'weights.bin'));
      await writeFile(join(truncated, 'weights.bin'), bytes.subarray(0, bytes.byteLength - 8));
      await expect(loadLayersModelFromDisk(truncated)).rejects.toThrow(`holds ${bytes.byteLength - 8} bytes but its weight specs need ${bytes.byteLength}`);

      const reshaped = join(root, 'reshaped');
      await saveLayersModelToDisk(model, reshaped);
      const json = JSON.parse(await readFile(join(reshaped, 'model.json'), 'utf8')) as ModelJson;
      const kernel = json.weightsManifest[0]?.weights.find((w) => w.name === 'conv_1/kernel') as { shape: number[] };
      kernel.shape = [3, 3, 2, 1]; // same size as [3, 3, 1, 2], wrong shape for the topology
      await writeFile(join(reshaped, 'model.json'), JSON.stringify(json));
      await expect(loadLayersModelFromDisk(reshaped)).rejects.toThrow(/cannot load the weights of .*reshaped.model\.json: shape mismatch for weight 'conv_1\/kernel': the manifest has \[3,3,2,1\], the topology needs \[3,3,1,2\]/);
      model.dispose();
      await expect(saveLayersModelToDisk({} as tf.LayersModel, missing)).rejects.toThrow('model must be a tf.LayersModel');

    });
  });
});
