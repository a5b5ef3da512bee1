import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBackend } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { CancelFit, Learner } from '@convkit/learner';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoader } from './data-loader.js';
import type { DataLoaderOptions } from './data-loader.js';
import { createImageDataset } from './dataset.js';
import { loadImageFolder } from './image-folder.js';
import { streamImageFolder } from './stream-image-folder.js';
import type { TransformModule } from './transform-module.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');
const FIXTURE = pathToFileURL(join(here, 'worker-transform.fixture.mjs'));

beforeAll(async () => {
  // The workers run the compiled entry (dist/batch-worker.js): build it from these sources first.
  execFileSync(process.execPath, [join(packageDir, '../../node_modules/typescript/bin/tsc'), '-b', packageDir]);
  // As a worker does: cpu with convkit's kernel fixes (tfjs 4.22's cpu Transform stops after the first image).
  await initBackend({ backend: 'cpu', log: false, env: {} });
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

/** 37 images of 6×5×3 with varied bytes, three classes: batches of 8 leave a smaller last one. */
const DATASET = createImageDataset({
  images: Uint8Array.from({ length: 37 * 6 * 5 * 3 }, (_, i) => (i * 37 + (i >> 5)) % 256),
  labels: Array.from({ length: 37 }, (_, i) => i % 3),
  shape: [6, 5, 3],
});

function fixture(options: Record<string, number> = {}): TransformModule {
  return { url: FIXTURE, export: 'flipShiftBrightness', options };
}

/** A new folder with classes `a` and `b` of `count` varied `width × height` images each (`0.<format>` …). */
async function classFolders(format: 'png' | 'jpg', count: number, width: number, height: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `convkit-workers-${format}-`));
  for (const [c, label] of ['a', 'b'].entries()) {
    await mkdir(join(dir, label));
    for (let i = 0; i < count; i++) {
      const pixels = Buffer.from(Array.from({ length: width * height * 3 }, (_, k) => (k * (i + 3) + 50 * c + (k >> 7)) % 256));
      const image = sharp(pixels, { raw: { width, height, channels: 3 } });
      await writeFile(join(dir, label, `${i}.${format}`), await (format === 'png' ? image.png() : image.jpeg()).toBuffer());
    }
  }
  return dir;
}

/** Two epochs of the folder `dir` loaded in memory, batches of 4 with the fixture transform in the training thread. */
async function inMemoryBatches(dir: string, folder: { size: [number, number]; log: false }): Promise<{ x: Float32Array; y: number[] }[][]> {
  return twoEpochs(new DataLoader(await loadImageFolder(dir, folder), options({ batchSize: 4, transformModule: fixture(), workers: 0 })));
}

/** Two epochs of `loader`, each batch read into plain arrays; closes the loader. */
async function twoEpochs(loader: DataLoader): Promise<{ x: Float32Array; y: number[] }[][]> {
  const epochs = [];
  for (let e = 0; e < 2; e++) {
    const batches = [];
    for await (const { x, y } of loader) {
      batches.push({ x: (await x.data()) as Float32Array, y: Array.from(await y.data()) });
      tf.dispose([x, y]);
    }
    epochs.push(batches);
  }
  await loader.close();
  return epochs;
}

function options(extra: Partial<DataLoaderOptions>): DataLoaderOptions {
  return { batchSize: 8, seed: 5, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], ...extra };
}

describe('DataLoader workers', () => {
  it('give the same batches, bit for bit, with 0, 1 and 3 workers (cpu in every thread)', async () => {
    await expectNoLeak(async () => {
      const inThread = await twoEpochs(new DataLoader(DATASET, options({ transformModule: fixture(), workers: 0 })));
      expect(inThread[0]).toHaveLength(5);
      expect(inThread[0]![4]!.x).toHaveLength(5 * 6 * 5 * 3);
      expect(inThread[1]![0]!.x).not.toEqual(inThread[0]![0]!.x); // a new order and new draws in epoch 2
      for (const workers of [1, 3]) {
        const inWorkers = await twoEpochs(new DataLoader(DATASET, options({ transformModule: fixture(), workers })));
        expect(inWorkers).toEqual(inThread);
      }
    });
  });

  it('encode exactly as the training thread when there is no transform, and leave an in-thread transform in place', async () => {
    const transform: DataLoaderOptions['transform'] = (x) => x.mul(2);
    const plain = await twoEpochs(new DataLoader(DATASET, options({ transform })));
    const encodedInWorker = await twoEpochs(new DataLoader(DATASET, options({ transform, workers: 2 })));
    expect(encodedInWorker).toEqual(plain);
  });

  it('give the same batches on wasm (oneDNN kernels in the training thread, only the image kernels in the worker), bit for bit', async () => {
    await initBackend({ backend: 'wasm', log: false, env: {} });
    try {
      const inThread = await twoEpochs(new DataLoader(DATASET, options({ transformModule: fixture(), workers: 0 })));
      const inWorker = await twoEpochs(new DataLoader(DATASET, options({ transformModule: fixture(), workers: 1 })));
      expect(inWorker).toEqual(inThread);
    } finally {
      await initBackend({ backend: 'cpu', log: false, env: {} });
    }
  });

  it("run tf.image.transform on @convkit/native's image kernel in the worker, unless CONVKIT_NATIVE=0", async () => {
    await initBackend({ backend: 'wasm', log: false, env: {} });
    const servedBy: TransformModule = { url: FIXTURE, export: 'transformServedBy' };
    const saved = process.env['CONVKIT_NATIVE'];
    try {
      delete process.env['CONVKIT_NATIVE'];
      const native = await twoEpochs(new DataLoader(DATASET, options({ transformModule: servedBy, workers: 1 })));
      expect(native.flat().every(({ x }) => x.every((v) => v === 1))).toBe(true);
      process.env['CONVKIT_NATIVE'] = '0';
      const stock = await twoEpochs(new DataLoader(DATASET, options({ transformModule: servedBy, workers: 1 })));
      expect(stock.flat().every(({ x }) => x.every((v) => v === 0))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env['CONVKIT_NATIVE'];
      else process.env['CONVKIT_NATIVE'] = saved;
      await initBackend({ backend: 'cpu', log: false, env: {} });
    }
  });

  it('keep the workers between epochs, and stop them when an epoch ends early or on close()', async () => {
    const loader = new DataLoader(DATASET, options({ transformModule: fixture(), workers: 2 }));
    expect(loader.activeWorkers).toBe(0);
    for await (const { x, y } of loader) tf.dispose([x, y]);
    expect(loader.activeWorkers).toBe(2);
    for await (const { x, y } of loader) {
      tf.dispose([x, y]);
      break;
    }
    expect(loader.activeWorkers).toBe(0);
    for await (const { x, y } of loader) tf.dispose([x, y]);
    expect(loader.activeWorkers).toBe(2);
    await loader.close();
    expect(loader.activeWorkers).toBe(0);
  });

  it('stop when a Learner fit is cancelled mid-epoch', async () => {
    await expectNoLeak(async () => {
      const loader = new DataLoader(DATASET, options({ transformModule: fixture(), workers: 1 }));
      const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [6, 5, 3] }), tf.layers.dense({ units: 3 })] });
      const optimizer = tf.train.sgd(0.01);
      let seen = -1;
      const stop = {
        name: 'stop',
        afterBatch: (ctx: { batchIndex: number }) => {
          seen = loader.activeWorkers;
          if (ctx.batchIndex === 1) throw new CancelFit('test');
        },
      };
      const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: loader, plugins: [stop], seed: 0 });
      try {
        const history = await learner.fit(3);
        expect(history.stopReason).toContain('test');
      } finally {
        model.dispose();
        optimizer.dispose();
      }
      expect(seen).toBe(1);
      expect(loader.activeWorkers).toBe(0);
    });
  });

  it('name the batch and its rows when the transform throws in a worker', async () => {
    const loader = new DataLoader(DATASET, options({ transformModule: fixture({ failAt: 2 }), workers: 1, shuffle: false }));
    await expect(twoEpochs(loader)).rejects.toThrow(
      "batch 2 of epoch 1 (row 16, row 17, row 18, row 19, …) failed in the loader's worker: boom in call 2",
    );
    expect(loader.activeWorkers).toBe(0);
  });

  it('name the batch when a worker dies, and leave no worker behind', async () => {
    const loader = new DataLoader(DATASET, options({ transformModule: fixture({ exitAt: 1 }), workers: 1, shuffle: false }));
    await expect(twoEpochs(loader)).rejects.toThrow(/batch 1 of epoch 1 \(row 8, .*\) was not built: the loader's worker exited with code 3/);
    expect(loader.activeWorkers).toBe(0);
  });

  it('give a streamed (and cached) folder the batches of the in-memory one, and name its files in errors', async () => {
    const dir = await classFolders('png', 6, 9, 7);
    try {
      const folder = { size: [6, 5] as [number, number], log: false as const };
      const expected = await inMemoryBatches(dir, folder);
      const streamed = await streamImageFolder(dir, { ...folder, cache: join(dir, 'rows.ckcache') });
      const inWorker = await twoEpochs(new DataLoader(streamed, options({ batchSize: 4, transformModule: fixture(), workers: 1 })));
      expect(inWorker).toEqual(expected);
      const failing = new DataLoader(streamed, options({ batchSize: 4, transformModule: fixture({ failAt: 1 }), shuffle: false }));
      await expect(twoEpochs(failing)).rejects.toThrow(`batch 1 of epoch 1 (${join(dir, 'a', '4.png')}, ${join(dir, 'a', '5.png')}, ${join(dir, 'b', '0.png')}, ${join(dir, 'b', '1.png')})`);
      await streamed.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("decode a streamed JPEG folder in the worker (the dataset's readRows unused), to the in-memory batches; a file it refuses goes back to readRows", async () => {
    const dir = await classFolders('jpg', 5, 40, 30);
    try {
      const folder = { size: [12, 10] as [number, number], log: false as const };
      const expected = await inMemoryBatches(dir, folder);
      const streamed = await streamImageFolder(dir, folder);
      const readRows = streamed.readRows.bind(streamed);
      let reads = 0;
      (streamed as { readRows: typeof readRows }).readRows = (rows) => {
        reads += 1;
        return readRows(rows);
      };
      expect(await twoEpochs(new DataLoader(streamed, options({ batchSize: 4, transformModule: fixture(), workers: 1 })))).toEqual(expected);
      expect(reads).toBe(0);
      // A truncated file: libjpeg-turbo refuses it in the worker, the dataset's readRows names it (sharp's reason).
      const whole = await sharp(Buffer.alloc(40 * 30 * 3, 90), { raw: { width: 40, height: 30, channels: 3 } }).jpeg().toBuffer();
      await writeFile(join(dir, 'b', '2.jpg'), whole.subarray(0, whole.length >> 1));
      const broken = await streamImageFolder(dir, folder);
      const loader = new DataLoader(broken, options({ batchSize: 4, transformModule: fixture(), workers: 1, shuffle: false }));
      await expect(twoEpochs(loader)).rejects.toThrow(`${join(dir, 'b', '2.jpg')} (row 7, class "b") must be an image file decodable to 10×12×3, but it cannot be decoded (`);
      // With onError: 'skip', the batches are those the training thread builds (the stand-in rows included).
      const skipping = { ...folder, onError: 'skip' as const };
      const inThread = await twoEpochs(new DataLoader(await streamImageFolder(dir, skipping), options({ batchSize: 4, transformModule: fixture(), workers: 0 })));
      const inWorker = await twoEpochs(new DataLoader(await streamImageFolder(dir, skipping), options({ batchSize: 4, transformModule: fixture(), workers: 1 })));
      expect(inWorker).toEqual(inThread);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('name the module when it cannot be imported or does not export a factory', async () => {
    const missing = new DataLoader(DATASET, options({ transformModule: { url: '/nonexistent/augment.mjs' }, workers: 1 }));
    await expect(twoEpochs(missing)).rejects.toThrow(/batch 0 of epoch 1 .* failed in the loader's worker: transformModule file:\/\/\/nonexistent\/augment\.mjs could not be imported/);
    const inThread = new DataLoader(DATASET, options({ transformModule: { url: FIXTURE, export: 'notAFunction' }, workers: 0 }));
    await expect(twoEpochs(inThread)).rejects.toThrow(`transformModule ${FIXTURE.href} must export a function 'notAFunction' that builds the transform (received number)`);
  });

  it('refuse bad options with the option named', () => {
    expect(() => new DataLoader(DATASET, options({ workers: -1 }))).toThrow('workers must be a non-negative integer (received -1)');
    expect(() => new DataLoader(DATASET, options({ workers: 1.5 }))).toThrow('workers must be a non-negative integer (received 1.5)');
    expect(() => new DataLoader(DATASET, options({ transformModule: { url: './augment.js' } }))).toThrow(
      'transformModule.url must be a file: URL or an absolute path',
    );
    expect(() => new DataLoader(DATASET, options({ transformModule: fixture(), transform: (x) => x }))).toThrow(
      'transform and transformModule must not both be given',
    );
    expect(() => new DataLoader(DATASET, options({ transformModule: fixture(), deferTransform: true }))).toThrow(
      'deferTransform must be false with a transformModule',
    );
  });

  for (const ending of ['a whole epoch', 'a break after one batch']) {
    it(`let the process exit by itself after ${ending}, without close()`, async () => {
      const script = `
        import * as tf from '@tensorflow/tfjs';
        import { createImageDataset, DataLoader } from ${JSON.stringify(pathToFileURL(join(packageDir, 'dist/index.js')).href)};
        await tf.setBackend('cpu');
        const dataset = createImageDataset({ images: new Uint8Array(20 * 12), labels: new Array(20).fill(0), shape: [2, 2, 3] });
        const loader = new DataLoader(dataset, { batchSize: 4, workers: 2, transformModule: ${JSON.stringify({ url: FIXTURE.href, export: 'flipShiftBrightness' })} });
        let batches = 0;
        for await (const { x, y } of loader) {
          tf.dispose([x, y]);
          batches++;
          if (${ending === 'a break after one batch'}) break;
        }
        console.log('batches', batches, 'workers', loader.activeWorkers);
      `;
      const output = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: packageDir, timeout: 60_000 }, (error, stdout, stderr) =>
          error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
        );
      });
      expect(output).toContain(ending === 'a whole epoch' ? 'batches 5 workers 2' : 'batches 1 workers 0');
    });
  }
});
