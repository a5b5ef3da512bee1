import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expectNoLeak } from '@convkit/core/testing';
import { loadKerasModel, modelCacheDir, smallConvNet } from './index.js';

let root = '';
let server: Server;
let base = '';
const requests: string[] = [];

/**
 * Saves `model` the way `tensorflowjs_converter --input_format keras` lays out a Keras model: a model.json whose
 * modelTopology wraps the Keras config in `model_config` (with keras_version, backend, training_config) and a
 * weights manifest over several `group1-shardKofN.bin` files, the bytes split at arbitrary offsets.
 */
async function saveAsConverted(model: tf.LayersModel, folder: string, shards: number): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const bytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts!.weightData!));
  const size = Math.ceil(bytes.length / shards);
  const paths = Array.from({ length: shards }, (_, k) => `group1-shard${k + 1}of${shards}.bin`);
  await mkdir(folder, { recursive: true });
  for (const [k, path] of paths.entries()) await writeFile(join(folder, path), bytes.subarray(k * size, (k + 1) * size));
  const topology = artifacts!.modelTopology as Record<string, unknown>;
  await writeFile(join(folder, 'model.json'), JSON.stringify({
    format: 'layers-model',
    generatedBy: 'keras v2.13.1',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.13.1',
      backend: 'tensorflow',
      model_config: topology,
      training_config: { loss: 'categorical_crossentropy', metrics: ['accuracy'], optimizer_config: { class_name: 'SGD', config: { learning_rate: 0.01 } } },
    },
    weightsManifest: [{ paths, weights: artifacts!.weightSpecs }],
  }));
}

async function predict(model: tf.LayersModel): Promise<number[]> {
  const out = tf.tidy(() => model.predict(tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3)) as tf.Tensor);
  const values = Array.from(await out.data());
  out.dispose();
  return values;
}

const original = (): tf.LayersModel => smallConvNet({ inputShape: [8, 8, 3], numClasses: 4, filters: [4, 8], dense: [6], seed: 7 });

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'convkit-keras-'));
  const model = original();
  await saveAsConverted(model, join(root, 'served', 'tiny'), 3);
  model.dispose();
  server = createServer((request, response) => {
    requests.push(request.url ?? '');
    readFile(join(root, 'served', decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)))
      .then((data) => response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data))
      .catch(() => response.writeHead(404).end('not found'));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
  await rm(root, { recursive: true, force: true });
});

describe('loadKerasModel', () => {
  it('loads a converter-style folder (Keras model_config, 3 shards) from a path and a file:// URL', async () => {
    const model = original();
    const expected = await predict(model);
    model.dispose();
    await expectNoLeak(async () => {
      for (const source of [join(root, 'served', 'tiny'), join(root, 'served', 'tiny', 'model.json'), pathToFileURL(join(root, 'served', 'tiny', 'model.json'))]) {
        const loaded = await loadKerasModel(source);
        expect(loaded.layers.map((l) => l.name)).toContain('head_logits');
        expect(await predict(loaded)).toEqual(expected);
        loaded.dispose();
      }
    });
  });

  it('downloads from http into the cache once, atomically, then loads from the cache without the network', async () => {
    const model = original();
    const expected = await predict(model);
    model.dispose();
    const cacheDir = join(root, 'cache');
    const url = `${base}/tiny/model.json`;
    await expectNoLeak(async () => {
      requests.length = 0;
      const first = await loadKerasModel(url, { cacheDir });
      expect(await predict(first)).toEqual(expected);
      first.dispose();
      expect(requests.sort()).toEqual(['/tiny/group1-shard1of3.bin', '/tiny/group1-shard2of3.bin', '/tiny/group1-shard3of3.bin', '/tiny/model.json']);
      const folder = modelCacheDir(url, { cacheDir });
      expect(folder.startsWith(join(cacheDir, 'models'))).toBe(true);
      expect((await readdir(folder)).sort()).toEqual(['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin', 'model.json', 'source.json']);
      expect(JSON.parse(await readFile(join(folder, 'source.json'), 'utf8')).url).toBe(url);
      expect((await readdir(join(cacheDir, 'models'))).filter((name) => name.startsWith('.tmp-'))).toEqual([]);

      requests.length = 0;
      const folderUrl = await loadKerasModel(`${base}/tiny`, { cacheDir });
      expect(requests).toEqual([]);
      expect(await predict(folderUrl)).toEqual(expected);
      folderUrl.dispose();

      const refreshed = await loadKerasModel(url, { cacheDir, refresh: true });
      expect(requests).toHaveLength(4);
      expect(await predict(refreshed)).toEqual(expected);
      refreshed.dispose();
    });
  });

  it('leaves no cache entry when a shard is missing, and names the URL and the HTTP status', async () => {
    const cacheDir = join(root, 'cache-missing');
    await mkdir(join(root, 'served', 'broken'), { recursive: true });
    const json = JSON.parse(await readFile(join(root, 'served', 'tiny', 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['group1-shard1of3.bin', 'gone.bin'];
    await writeFile(join(root, 'served', 'broken', 'model.json'), JSON.stringify(json));
    await writeFile(join(root, 'served', 'broken', 'group1-shard1of3.bin'), await readFile(join(root, 'served', 'tiny', 'group1-shard1of3.bin')));
    await expect(loadKerasModel(`${base}/broken/model.json`, { cacheDir })).rejects.toThrow(
      `cannot download ${base}/broken/gone.bin: HTTP 404`
    );
    expect(await readdir(join(cacheDir, 'models')).catch(() => [])).toEqual([]);
  });

  it('refuses other URL schemes, shard paths outside the folder and a missing model.json with clear errors', async () => {
    await expect(loadKerasModel('ftp://example.com/model.json')).rejects.toThrow(
      'source must be a path or a file:, http: or https: URL (received the ftp: URL ftp://example.com/model.json)'
    );
    await expect(loadKerasModel('')).rejects.toThrow('source must be a folder, a model.json path or a URL (received \'\')');
    await mkdir(join(root, 'served', 'escape'), { recursive: true });
    const json = JSON.parse(await readFile(join(root, 'served', 'tiny', 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../tiny/group1-shard1of3.bin'];
    await writeFile(join(root, 'served', 'escape', 'model.json'), JSON.stringify(json));
    await expect(loadKerasModel(`${base}/escape/model.json`, { cacheDir: join(root, 'cache-escape') })).rejects.toThrow(
      'weightsManifest[0].paths holds \'../tiny/group1-shard1of3.bin\': expected a shard file name beside model.json'
    );
    await expect(loadKerasModel(`${base}/nothing/model.json`, { cacheDir: join(root, 'cache-none') })).rejects.toThrow(
      `cannot download ${base}/nothing/model.json: HTTP 404`
    );
  });
});
