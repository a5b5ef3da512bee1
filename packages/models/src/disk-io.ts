import * as tf from '@tensorflow/tfjs';
import { nodeFileSystem, temporaryPath, writeDirectoryAtomic } from '@convkit/io';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { show } from './validate.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/**
 * A `tf.io` IOHandler that saves to and loads from a folder on disk with `node:fs`, in the
 * tfjs-layers format: `model.json` (topology + weights manifest) and binary weight shards.
 *
 * Why: plain `@tensorflow/tfjs` has no `file://` handler (only `@tensorflow/tfjs-node` does, and
 * it cannot be installed everywhere). `path` is the folder, or the `model.json` inside it. Loading
 * reads every shard the manifest lists (Keras `tensorflowjs_converter` output has several);
 * saving writes one `weights.bin` into a temporary sibling folder (each file and the folder
 * fsynced, through `@convkit/io`) and renames it into place, so a crash or a power loss never
 * leaves a half-written model. Nothing to dispose.
 *
 * @example
 * ```ts
 * await model.save(diskHandler('./checkpoints/best'));
 * const loaded = await tf.loadLayersModel(diskHandler('./checkpoints/best'));
 * ```
 */
export function diskHandler(path: string): tf.io.IOHandler {
  if (typeof path !== 'string' || path.length === 0) throw new Error(`path must be a non-empty string (received ${show(path)})`);
  const folder = resolve(basename(path) === MODEL_JSON ? dirname(path) : path);
  return {
    save: (artifacts: tf.io.ModelArtifacts) => saveArtifacts(folder, artifacts),
    load: () => loadArtifacts(folder),
  };
}

/**
 * Saves a `tf.LayersModel` (topology and weights) into the folder `dir`, atomically (written to
 * a temporary folder, then renamed; an existing model there is replaced).
 *
 * Returns tfjs's `SaveResult`. Does not dispose `model`.
 *
 * @example
 * ```ts
 * await saveLayersModelToDisk(model, './models/mnist-vgg');
 * ```
 */
export async function saveLayersModelToDisk(model: tf.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  if (model === null || typeof model !== 'object' || typeof model.save !== 'function') {
    throw new Error(`model must be a tf.LayersModel (received ${show(model)})`);
  }
  return model.save(diskHandler(dir));
}

/**
 * Loads a Keras / tfjs-layers model (`model.json` + weight shards) from the folder `dir` (or the
 * path of its `model.json`), e.g. a pretrained backbone converted with `tensorflowjs_converter`.
 *
 * Throws a clear error for a missing `model.json`, a missing shard (named), shard sizes that do
 * not match the manifest, or a weight whose shape does not match the topology (named); a failed
 * load frees everything it made. The training configuration (optimizer, loss) and optimizer
 * weights are not restored: train with the Learner and an `@convkit/optim` optimizer. Returns a
 * new, uncompiled `tf.LayersModel`; the caller disposes it.
 *
 * @example
 * ```ts
 * const backbone = await loadLayersModelFromDisk('./pretrained/vgg16');
 * const model = replaceHead(backbone, { numClasses: 5 });
 * ```
 */
export async function loadLayersModelFromDisk(dir: string): Promise<tf.LayersModel> {
  const handler = diskHandler(dir);
  const where = join(resolve(basename(dir) === MODEL_JSON ? dirname(dir) : dir), MODEL_JSON);
  const artifacts = await (handler.load as () => Promise<tf.io.ModelArtifacts>)();
  if (artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error(`${where} has no JSON modelTopology`);
  }
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: artifacts.modelTopology });
  } catch (error) {
    throw new Error(`cannot build the model of ${where}: ${(error as Error).message}`);
  }
  try {
    const specs = (artifacts.weightSpecs ?? []).filter((spec) => spec.group !== 'optimizer');
    const saved = new Map(specs.map((spec) => [spec.name, spec.shape]));
    for (const weight of model.weights) {
      const shape = saved.get(weight.originalName);
      if (shape === undefined) throw new Error(`weight '${weight.originalName}' of the topology is missing from the weights manifest`);
      if (shape.length !== weight.shape.length || shape.some((size, i) => size !== weight.shape[i])) {
        throw new Error(`shape mismatch for weight '${weight.originalName}': the manifest has ${show(shape)}, the topology needs ${show(weight.shape)}`);
      }
    }
    const all = artifacts.weightSpecs ?? [];
    const decoded = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), all);
    try {
      const named: tf.NamedTensorMap = {};
      for (const spec of specs) named[spec.name] = decoded[spec.name] as tf.Tensor;
      model.loadWeights(named, true);
    } finally {
      tf.dispose(Object.values(decoded));
    }
    if (artifacts.userDefinedMetadata !== undefined) model.setUserDefinedMetadata(artifacts.userDefinedMetadata);
    return model;
  } catch (error) {
    model.dispose();
    throw new Error(`cannot load the weights of ${where}: ${(error as Error).message}`);
  }
}

async function saveArtifacts(folder: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error('diskHandler saves JSON model topologies only (received a binary topology)');
  }
  const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const modelJson: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig !== undefined) modelJson['trainingConfig'] = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata !== undefined) modelJson['userDefinedMetadata'] = artifacts.userDefinedMetadata;
  if (artifacts.signature !== undefined) modelJson['signature'] = artifacts.signature;
  if (artifacts.modelInitializer !== undefined) modelJson['modelInitializer'] = artifacts.modelInitializer;

  await replaceDirectoryAtomic(folder, { [MODEL_JSON]: JSON.stringify(modelJson), [WEIGHTS_BIN]: new Uint8Array(weightData) });
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
      weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
      weightDataBytes: weightData.byteLength,
    },
  };
}

/**
 * Writes `files` as the folder `folder`, replacing one that exists, so that a reader sees the old folder or the
 * complete new one: the files go to a temporary sibling through `@convkit/io`'s `writeDirectoryAtomic` (every
 * file and the folder fsynced), an existing folder is renamed aside, the new one renamed into place, the parent
 * fsynced, and the old one removed. On failure the old folder is put back.
 */
export async function replaceDirectoryAtomic(folder: string, files: Readonly<Record<string, Uint8Array | string>>): Promise<void> {
  const staged = temporaryPath(folder);
  await writeDirectoryAtomic(staged, files);
  const previous = temporaryPath(folder);
  const existed = await nodeFileSystem.exists(folder);
  try {
    if (existed) await nodeFileSystem.rename(folder, previous);
    try {
      await nodeFileSystem.rename(staged, folder);
    } catch (error) {
      if (existed) await nodeFileSystem.rename(previous, folder);
      throw error;
    }
    await nodeFileSystem.syncDirectory(dirname(folder));
  } finally {
    await nodeFileSystem.remove(staged);
    if (existed) await nodeFileSystem.remove(previous);
  }
}

async function loadArtifacts(folder: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = join(folder, MODEL_JSON);
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `model.json not found: ${jsonPath} does not exist` : `cannot read ${jsonPath}: ${(error as Error).message}`);
  }
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(text) as tf.io.ModelJSON;
  } catch (error) {
    throw new Error(`${jsonPath} is not valid JSON: ${(error as Error).message}`);
  }
  if (modelJson === null || typeof modelJson !== 'object' || modelJson.modelTopology == null) {
    throw new Error(`${jsonPath} has no modelTopology (is it a tfjs-layers model.json?)`);
  }
  if (modelJson.weightsManifest !== undefined && !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${jsonPath} weightsManifest must be an array (received ${show(modelJson.weightsManifest)})`);
  }
  return tf.io.getModelArtifactsForJSON(modelJson, (manifest) => readWeights(folder, jsonPath, manifest));
}

async function readWeights(
  folder: string, jsonPath: string, manifest: tf.io.WeightsManifestConfig,
): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const [groupIndex, group] of manifest.entries()) {
    let groupBytes = 0;
    for (const path of group.paths) {
      const file = join(folder, path);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new Error(code === 'ENOENT'
          ? `weights shard '${path}' listed in ${jsonPath} is missing (${file} does not exist)`
          : `cannot read weights shard '${path}' (${file}): ${(error as Error).message}`);
      }
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      groupBytes += bytes.byteLength;
    }
    const expected = expectedBytes(group.weights);
    if (expected !== undefined && expected !== groupBytes) {
      throw new Error(`weights group ${groupIndex} of ${jsonPath} (${group.paths.join(', ')}) holds ${groupBytes} bytes but its weight specs need ${expected}: shard sizes and the manifest's shapes do not match`);
    }
    specs.push(...group.weights);
  }
  return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
}

/** Bytes the specs need, or undefined when it cannot be known up front (string weights). */
function expectedBytes(specs: readonly tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    const size = BYTES[dtype];
    if (size === undefined) return undefined;
    total += spec.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}
