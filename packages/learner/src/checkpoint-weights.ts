import * as tf from '@tensorflow/tfjs';
import type { LearnerModel } from './model.js';

/** The `model.json` of a checkpoint: the tfjs-layers format (topology + weights manifest), or weights only. */
export interface CheckpointModelJson {
  /** `'layers-model'` (a `tf.LayersModel`: rebuildable from the file alone) or `'convkit-weights'` (a FunctionModel). */
  format: 'layers-model' | 'convkit-weights';
  generatedBy: string;
  convertedBy: string | null;
  /** The Keras-style topology; absent for a FunctionModel. */
  modelTopology?: unknown;
  /** One group: `weights.bin` and the spec of each weight, in the model's weight order. */
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** A model's weights as the files of a checkpoint. */
export interface EncodedModel {
  json: CheckpointModelJson;
  weights: Uint8Array;
}

export const WEIGHTS_FILE = 'weights.bin';

function joinWeightData(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
}

/**
 * Encodes a model's weights (all of them, trainable or not, in the model's order) and, for a `tf.LayersModel`,
 * its topology, through `tf.io.withSaveHandler` (tfjs-node, which writes files itself, is not needed).
 */
export async function encodeModel(model: LearnerModel): Promise<EncodedModel> {
  if (model instanceof tf.LayersModel) {
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      })
    );
    const saved = artifacts!;
    return {
      json: {
        format: 'layers-model',
        generatedBy: saved.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: saved.convertedBy ?? null,
        modelTopology: saved.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: saved.weightSpecs ?? [] }],
      },
      weights: new Uint8Array(joinWeightData(saved.weightData)),
    };
  }
  const named = model.variables.map((variable) => ({ name: variable.name, tensor: variable as tf.Tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  return {
    json: {
      format: 'convkit-weights',
      generatedBy: `@convkit/learner (TensorFlow.js v${tf.version_core})`,
      convertedBy: null,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
    },
    weights: new Uint8Array(data),
  };
}

/** The weight specs of a checkpoint's `model.json`, in order. */
export function weightSpecs(json: CheckpointModelJson): tf.io.WeightsManifestEntry[] {
  return json.weightsManifest.flatMap((group) => group.weights);
}

/** Every variable of a model, in the order its checkpoint stores them, with a readable name. */
function modelWeights(model: LearnerModel): { name: string; variable: { shape: number[]; write(t: tf.Tensor): void } }[] {
  if (model instanceof tf.LayersModel) {
    return model.weights.map((weight) => ({
      name: weight.originalName,
      variable: { shape: weight.shape.map((d) => d ?? -1), write: (t: tf.Tensor) => void weight.write(t) },
    }));
  }
  return model.variables.map((variable) => ({
    name: variable.name,
    variable: { shape: [...variable.shape], write: (t: tf.Tensor) => variable.assign(t) },
  }));
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Writes a checkpoint's weights into `model`, matched by position (layer names differ between processes: tfjs
 * numbers them as they are built). Checks every shape first and throws, naming the first mismatched weight with
 * its expected and found shapes, before anything is written. Values are copied bit for bit.
 */
export function applyWeights(model: LearnerModel, json: CheckpointModelJson, data: Uint8Array, source: string): void {
  const specs = weightSpecs(json);
  const targets = modelWeights(model);
  if (specs.length !== targets.length) {
    const first = Math.min(specs.length, targets.length);
    const extra = targets.length > specs.length ? `the model's "${targets[first]!.name}"` : `the checkpoint's "${specs[first]!.name}"`;
    throw new Error(
      `checkpoint ${source} holds ${specs.length} weights but the model has ${targets.length}; the first without a ` +
        `counterpart is ${extra} (weight ${first})`
    );
  }
  specs.forEach((spec, i) => {
    const target = targets[i]!;
    if (spec.shape.length !== target.variable.shape.length || spec.shape.some((d, k) => d !== target.variable.shape[k])) {
      throw new Error(
        `checkpoint ${source} does not fit the model: weight ${i} "${target.name}" expects shape ` +
          `${shapeText(target.variable.shape)} but the checkpoint's "${spec.name}" has shape ${shapeText(spec.shape)}`
      );
    }
  });
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const decoded = tf.io.decodeWeights(buffer, specs);
  try {
    specs.forEach((spec, i) => targets[i]!.variable.write(decoded[spec.name]!));
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/** Builds a `tf.LayersModel` from a checkpoint's `model.json` and weights alone. The caller disposes it. */
export async function buildModel(json: CheckpointModelJson, data: Uint8Array, source: string): Promise<tf.LayersModel> {
  if (json.format !== 'layers-model' || json.modelTopology === undefined) {
    throw new Error(
      `checkpoint ${source} holds the weights of a FunctionModel (format "${json.format}"), which has no topology; ` +
        'build the model in code and load the weights with loadCheckpointWeights'
    );
  }
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: weightSpecs(json),
      weightData: buffer,
    })
  );
}
