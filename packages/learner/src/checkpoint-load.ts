import type * as tf from '@tensorflow/tfjs';
import { nodeFileSystem, type CheckpointFileSystem } from './checkpoint-io.js';
import { readCheckpoint, type Checkpoint } from './checkpoint-state.js';
import { applyWeights, buildModel } from './checkpoint-weights.js';
import type { LearnerModel } from './model.js';

/** Options of {@link loadCheckpoint}, {@link loadCheckpointModel} and {@link loadCheckpointWeights}. */
export interface LoadCheckpointOptions {
  /** In a directory of checkpoints, load the manifest's `'latest'` or its `'best'`. Defaults to `'latest'`. */
  which?: 'latest' | 'best';
  /** The file system to read from. Defaults to Node's. */
  fileSystem?: CheckpointFileSystem;
}

function checkWhich(which: unknown): 'latest' | 'best' {
  if (which !== 'latest' && which !== 'best') {
    throw new Error(`which must be "latest" or "best" (received ${JSON.stringify(which)})`);
  }
  return which;
}

/**
 * Reads a checkpoint: its `state.json` (position, history, optimizer, plugins, data), `model.json` and
 * `weights.bin`. `path` is a checkpoint directory or a directory of checkpoints written by the `checkpoint`
 * plugin (its manifest's latest, or best with `which: 'best'`). Makes no tensors.
 *
 * Why: to inspect a run (its history, where it stopped) or to hand it to `fit(epochs, { resume })`.
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from '@convkit/learner';
 * const saved = await loadCheckpoint('runs/a');
 * console.log(saved.state.position, saved.state.history.epochs.length);
 * ```
 */
export async function loadCheckpoint(path: string, options: LoadCheckpointOptions = {}): Promise<Checkpoint> {
  return readCheckpoint(options.fileSystem ?? nodeFileSystem, path, checkWhich(options.which ?? 'latest'));
}

/**
 * Rebuilds a `tf.LayersModel` from a checkpoint's files alone — the tfjs-layers `model.json` topology and the
 * weights — without the code that built it, ready to predict or to train further. A checkpoint of a
 * `FunctionModel` has no topology: that is an error that says to use {@link loadCheckpointWeights}.
 *
 * Ownership: the caller disposes the returned model.
 *
 * @example
 * ```ts
 * import { loadCheckpointModel } from '@convkit/learner';
 * const model = await loadCheckpointModel('runs/a', { which: 'best' });
 * model.summary();
 * ```
 */
export async function loadCheckpointModel(path: string, options: LoadCheckpointOptions = {}): Promise<tf.LayersModel> {
  const saved = await loadCheckpoint(path, options);
  return buildModel(saved.model, saved.weights, saved.directory);
}

/**
 * Writes a checkpoint's weights into an existing model (a `tf.LayersModel` or a `FunctionModel`), matched by
 * position in the model's weight list. Every shape is checked before anything is written; a mismatch is an error
 * naming the first mismatched weight, its expected and its found shape. Makes no tensors that outlive the call.
 *
 * @example
 * ```ts
 * import { loadCheckpointWeights } from '@convkit/learner';
 * await loadCheckpointWeights(model, 'runs/a/step-00000400');
 * ```
 */
export async function loadCheckpointWeights(
  model: LearnerModel,
  path: string | Checkpoint,
  options: LoadCheckpointOptions = {}
): Promise<void> {
  const saved = typeof path === 'string' ? await loadCheckpoint(path, options) : path;
  applyWeights(model, saved.model, saved.weights, saved.directory);
}
