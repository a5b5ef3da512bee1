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

/** Every variable of a model, in the model's order, with its name (`layer/kernel`, or the variable's name). */
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

/** A tfjs automatic layer name, `<snake_case class>_<Class><n>` (e.g. `dense_Dense3`), split into class and number. */
const AUTO_LAYER = /^([a-z0-9_]+)_([A-Z][A-Za-z0-9]*?)(\d+)$/;

/** tfjs-layers' `toSnakeCase` (generic_utils.ts), which builds automatic layer names. */
function snakeCase(name: string): string {
  const snake = name
    .replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
  return snake.startsWith('_') ? `private${snake}` : snake;
}

/**
 * The matching keys of a list of weight names. tfjs numbers automatic names per process (`dense_Dense1` here is
 * `dense_Dense3` in a process that built two dense layers before), so such a layer is keyed by its class and its
 * rank among that class's automatic layers (`Dense#1/kernel`); a purely numeric variable name (a `tf.variable`
 * without a name) by its rank (`#2`). Every other name — a layer or variable the user named — is its own key.
 * The key does not depend on the weights' order, which `freeze` changes (trainable weights come first).
 */
export function weightKeys(names: readonly string[]): string[] {
  const parsed = names.map((name) => {
    const slash = name.indexOf('/');
    const layer = slash < 0 ? name : name.slice(0, slash);
    const rest = slash < 0 ? '' : name.slice(slash);
    const match = AUTO_LAYER.exec(layer);
    if (match !== null && snakeCase(match[2]!) === match[1]) {
      return { kind: 'layer' as const, group: match[2]!, number: Number(match[3]), rest };
    }
    if (/^\d+$/.test(name)) return { kind: 'variable' as const, group: '', number: Number(name), rest: '' };
    return { kind: 'named' as const, group: '', number: 0, rest: name };
  });
  const ranks = new Map<string, number[]>();
  for (const p of parsed) {
    if (p.kind === 'named') continue;
    const numbers = ranks.get(p.kind + p.group) ?? [];
    if (!numbers.includes(p.number)) numbers.push(p.number);
    ranks.set(p.kind + p.group, numbers);
  }
  for (const numbers of ranks.values()) numbers.sort((a, b) => a - b);
  return parsed.map((p) => {
    if (p.kind === 'named') return p.rest;
    const rank = ranks.get(p.kind + p.group)!.indexOf(p.number) + 1;
    return p.kind === 'layer' ? `${p.group}#${rank}${p.rest}` : `#${rank}`;
  });
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, string: 0 };

/** Checks that `weights.bin` holds exactly the bytes the manifest describes (a truncated or swapped file fails). */
function checkByteLength(specs: readonly tf.io.WeightsManifestEntry[], data: Uint8Array, source: string): void {
  let expected = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((product, d) => product * d, 1);
    const bytes = spec.quantization !== undefined ? DTYPE_BYTES[spec.quantization.dtype] : DTYPE_BYTES[spec.dtype];
    if (bytes === undefined || bytes === 0) return; // string or unknown dtypes: let tfjs decode and judge
    expected += size * bytes;
  }
  if (data.byteLength !== expected) {
    throw new Error(
      `checkpoint ${source} is corrupt: weights.bin holds ${data.byteLength} bytes but model.json's manifest ` +
        `describes ${expected} (${specs.length} weights); the file is truncated, edited or from another checkpoint`
    );
  }
}

/**
 * Writes a checkpoint's weights into `model`, matched by name: a weight the user named matches the same name; one
 * with a tfjs automatic name (numbered per process) matches by its layer class and rank (see {@link weightKeys}).
 * So the order does not matter — a checkpoint saved with a frozen backbone (whose weights tfjs lists after the
 * trainable ones) loads into an unfrozen copy. A model weight missing from the checkpoint, or a checkpoint weight
 * the model lacks, is an error naming them; so is a shape mismatch, naming the weight and both shapes; all is
 * checked before anything is written. Checkpoints from before this matching (the same files) load the same way.
 * Values are copied bit for bit.
 */
export function applyWeights(model: LearnerModel, json: CheckpointModelJson, data: Uint8Array, source: string): void {
  const specs = weightSpecs(json);
  const targets = modelWeights(model);
  const specKeys = weightKeys(specs.map((spec) => spec.name));
  const targetKeys = weightKeys(targets.map((target) => target.name));
  const byKey = new Map(specKeys.map((key, i) => [key, i]));
  if (byKey.size !== specKeys.length) {
    throw new Error(`checkpoint ${source} is corrupt: model.json names a weight twice (${specs.map((s) => s.name).join(', ')})`);
  }
  const missing = targets.filter((_, i) => !byKey.has(targetKeys[i]!)).map((t) => `"${t.name}"`);
  const targetSet = new Set(targetKeys);
  const extra = specs.filter((_, i) => !targetSet.has(specKeys[i]!)).map((s) => `"${s.name}"`);
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length > 0 ? `the model's ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the checkpoint` : '',
      extra.length > 0 ? `the checkpoint's ${extra.join(', ')} ${extra.length === 1 ? 'has' : 'have'} no counterpart in the model` : '',
    ].filter((part) => part !== '');
    throw new Error(
      `checkpoint ${source} does not fit the model (weights are matched by name): ${parts.join('; ')} ` +
        `(the checkpoint holds ${specs.length} weights, the model ${targets.length})`
    );
  }
  const pairs = targets.map((target, i) => ({ target, spec: specs[byKey.get(targetKeys[i]!)!]! }));
  for (const { target, spec } of pairs) {
    if (spec.shape.length !== target.variable.shape.length || spec.shape.some((d, k) => d !== target.variable.shape[k])) {
      throw new Error(
        `checkpoint ${source} does not fit the model: weight "${target.name}" expects shape ` +
          `${shapeText(target.variable.shape)} but the checkpoint's "${spec.name}" has shape ${shapeText(spec.shape)}`
      );
    }
  }
  checkByteLength(specs, data, source);
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const decoded = tf.io.decodeWeights(buffer, specs);
  try {
    for (const { target, spec } of pairs) target.variable.write(decoded[spec.name]!);
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
  checkByteLength(weightSpecs(json), data, source);
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: weightSpecs(json),
      weightData: buffer,
    })
  );
}
