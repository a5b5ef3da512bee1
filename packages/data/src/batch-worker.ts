// The entry of a DataLoader's worker thread (see worker-pool.ts): encodes batches and runs the transform off the
// training thread, on its own tfjs backend.
import { workerData } from 'node:worker_threads';
import { initBackend, loadNativeKernels, registerNativeImageKernels, tf } from '@convkit/core';
import { createPixelEncoder } from './batch-encoder.js';
import type { BatchTransform } from './batch-transform.js';
import { transformImages } from './batch-transform.js';
import { decodeJpegNative, loadJpegKernels } from './native-jpeg.js';
import { loadTransformModule } from './transform-module.js';
import type { BatchJob, BatchWorkerData, WorkerReply } from './worker-pool.js';

const init = workerData as BatchWorkerData;
const port = init.port;

async function start(): Promise<BatchTransform | undefined> {
  if (init.backend === 'cpu') await initBackend({ backend: 'cpu', log: false, env: {} });
  else {
    // oneDNN's kernels stay in the training thread (their primitive caches are the process's); the addon's stateless
    // image kernels (`Transform`, which batchAffine and fused batch flips + affine use) run here, unless
    // CONVKIT_NATIVE=0 turned the addon off.
    await initBackend({ backend: 'wasm', threads: 1, native: false, log: false, env: {} });
    if (init.nativeImageKernels) {
      const loaded = await loadNativeKernels();
      if ('kernels' in loaded) registerNativeImageKernels(loaded.kernels);
    }
  }
  return init.transformModule === undefined ? undefined : loadTransformModule(init.transformModule);
}

async function build(job: BatchJob, transform: BatchTransform | undefined): Promise<Extract<WorkerReply, { x: Float32Array }>> {
  const [height, width, channels] = init.shape;
  const count = job.bytes.length / (height * width * channels);
  const encoded = encode(job.bytes, Int32Array.from({ length: count }, (_, i) => i));
  if (transform === undefined) return { id: job.id, x: encoded, shape: [count, height, width, channels] };
  const x = tf.tensor4d(encoded, [count, height, width, channels], 'float32');
  let out: tf.Tensor4D | undefined;
  try {
    out = transformImages(x, transform, job.transformSeed, job.batchIndex);
    const values = (await out.data()) as Float32Array;
    // wasm hands out a fresh copy; another backend may hand out its own storage, which must not be transferred.
    return { id: job.id, x: tf.getBackend() === 'wasm' ? values : values.slice(), shape: out.shape };
  } finally {
    if (out !== undefined && out !== x) out.dispose();
    x.dispose();
  }
}

/**
 * The rows of JPEG `files`, decoded here as the training thread's dataset decodes them (the same libjpeg-turbo call, so
 * the same bytes), or why not (the first file it refuses, or no addon): that batch's rows are then read there.
 */
async function decodeFiles(files: readonly string[]): Promise<Uint8Array | string> {
  const kernels = await loadJpegKernels();
  if (kernels === undefined) return "@convkit/native's JPEG decoder is not available in the worker";
  const [height, width, channels] = init.shape;
  const pixels = height * width * channels;
  const rows = new Uint8Array(files.length * pixels);
  try {
    await Promise.all(files.map(async (file, i) => rows.set(await decodeJpegNative(kernels, file, height, width), i * pixels)));
  } catch (error) {
    return (error as Error).message ?? String(error);
  }
  return rows;
}

const encode = createPixelEncoder(init.shape, init.table);
// A failed start (the backend, the transform module) answers every job with its error.
const ready = start();
ready.catch(() => undefined);
port.on('message', (job: BatchJob) => {
  // Files are read and decoded at once, while the backend and the transform may still be starting.
  const rows = job.files === undefined ? Promise.resolve(job.bytes) : decodeFiles(job.files);
  Promise.all([ready, rows])
    .then(([transform, bytes]): WorkerReply | Promise<WorkerReply> =>
      typeof bytes === 'string' ? { id: job.id, fallback: bytes } : build({ ...job, bytes }, transform),
    )
    .then(
      (reply) => port.postMessage(reply satisfies WorkerReply, 'x' in reply ? [reply.x.buffer as ArrayBuffer] : []),
      (error: unknown) => port.postMessage({ id: job.id, error: (error as Error).message ?? String(error) } satisfies WorkerReply),
    );
});
