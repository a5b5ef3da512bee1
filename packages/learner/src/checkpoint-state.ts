import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { RngState } from '@convkit/core';
import { isTemporaryName, readJson, type CheckpointFileSystem } from './checkpoint-io.js';
import { WEIGHTS_FILE, type CheckpointModelJson } from './checkpoint-weights.js';
import type { History, LastMetrics } from './history.js';

/** Where a checkpoint stands in a fit: the point a resumed fit continues from. */
export interface CheckpointPosition {
  /** The 0-based epoch (within the fit) to continue. */
  epoch: number;
  /** Training batches of that epoch already done (0: the epoch has not started). */
  batch: number;
  /** Optimizer steps the learner completed (over its life). */
  step: number;
  /** Optimizer steps completed within the fit. */
  fitStep: number;
  /** Epochs the saving fit was asked to run. */
  epochs: number;
}

/**
 * Everything of a run besides the weights, as `state.json` holds it. JSON-serialisable. The model's weights (and
 * its topology for a `tf.LayersModel`) are in `model.json` and `weights.bin` beside it.
 */
export interface CheckpointState {
  format: 'convkit-checkpoint';
  version: 1;
  /** ISO time of the save. */
  savedAt: string;
  position: CheckpointPosition;
  /** The learner's `Rng` (`ctx.rng`). */
  rng: RngState;
  /** The optimizer's `getState()`, or `null` when it has none. */
  optimizer: unknown;
  /** The optimizer's hyperparameters (also inside `optimizer` for convkit and tfjs optimizers). */
  hypers: Record<string, number>;
  /** The hyperparameters when the saving fit started: a resumed fit shows them to `beforeFit` hooks. */
  fitStartHypers: Record<string, number>;
  /** Each plugin's `getState()`, by plugin name (plugins without `getState` are absent). */
  plugins: Record<string, unknown>;
  /** The training source's `getState()` (e.g. a DataLoader's epoch, position, RNG and sampler), or `null`. */
  train: unknown;
  /** The losses (and batch sizes) of the current epoch's batches so far, for its mean training loss. */
  epochLosses: { value: number; size: number }[];
  /**
   * Each metric's accumulated state (`getState()`: running sums, confusion counts) in the current epoch, by metric
   * name; empty at an epoch boundary. Absent in checkpoints written before it existed.
   */
  metrics?: Record<string, unknown>;
  /** The latest metrics (`ctx.lastMetrics`). */
  lastMetrics: LastMetrics;
  /** The fit's history up to this point, step losses included. */
  history: History;
}

/** What `Learner.saveCheckpoint` wrote. */
export interface SavedCheckpoint {
  /** The checkpoint's directory. */
  directory: string;
  /** Where the run stood. */
  position: CheckpointPosition;
}

/** A checkpoint read from disk: its state, its model files, and where it lies. */
export interface Checkpoint {
  /** The checkpoint's directory. */
  directory: string;
  state: CheckpointState;
  /** The parsed `model.json`. */
  model: CheckpointModelJson;
  /** The bytes of `weights.bin`. */
  weights: Uint8Array;
}

export const STATE_FILE = 'state.json';
export const MODEL_FILE = 'model.json';
export const MANIFEST_FILE = 'manifest.json';

/** One saved checkpoint in a {@link CheckpointManifest}. */
export interface CheckpointEntry {
  /** The directory name, relative to the manifest. */
  name: string;
  epoch: number;
  batch: number;
  step: number;
  /** The monitored value at the save, when the plugin monitors one. */
  value?: number;
}

/** `manifest.json` of a checkpoint directory, written last (atomically) by the `checkpoint` plugin. */
export interface CheckpointManifest {
  format: 'convkit-checkpoints';
  version: 1;
  /** Name of the newest checkpoint. */
  latest: string;
  /** The best checkpoint by the monitored metric, if `saveBest`. */
  best?: CheckpointEntry & { monitor: string };
  /** The kept periodic checkpoints, oldest first. */
  checkpoints: CheckpointEntry[];
}

function fail(file: string, what: string): never {
  throw new Error(`${file} is not a convkit checkpoint state: ${what}`);
}

/** Checks the shape of a parsed `state.json`. */
export function checkState(value: unknown, file: string): CheckpointState {
  const state = value as Partial<CheckpointState> | null;
  if (typeof state !== 'object' || state === null || state.format !== 'convkit-checkpoint') {
    fail(file, `expected format "convkit-checkpoint" (received ${JSON.stringify((state as { format?: unknown })?.format)})`);
  }
  if (state.version !== 1) fail(file, `expected version 1 (received ${String(state.version)})`);
  const position = state.position as Partial<CheckpointPosition> | undefined;
  for (const key of ['epoch', 'batch', 'step', 'fitStep', 'epochs'] as const) {
    const n = position?.[key];
    if (!Number.isInteger(n) || (n as number) < 0) fail(file, `position.${key} must be a non-negative integer (received ${String(n)})`);
  }
  if (typeof state.history !== 'object' || !Array.isArray(state.history?.epochs) || !Array.isArray(state.history.steps)) {
    fail(file, 'history must hold epochs and steps');
  }
  if (typeof state.plugins !== 'object' || state.plugins === null) fail(file, 'plugins must be an object');
  if (!Array.isArray(state.epochLosses)) fail(file, 'epochLosses must be an array');
  return state as CheckpointState;
}

/**
 * Finds the checkpoint that `target` names: a checkpoint directory (with `state.json`), or a directory of
 * checkpoints written by the `checkpoint` plugin (its `manifest.json` names the latest, or the best with
 * `which: 'best'`).
 */
export async function resolveCheckpoint(
  fileSystem: CheckpointFileSystem,
  target: string,
  which: 'latest' | 'best' = 'latest'
): Promise<string> {
  if (typeof target !== 'string' || target === '') {
    throw new Error(`path must be a checkpoint directory (received ${JSON.stringify(target)})`);
  }
  if (await fileSystem.exists(path.join(target, STATE_FILE))) return target;
  const manifestFile = path.join(target, MANIFEST_FILE);
  if (!(await fileSystem.exists(manifestFile))) {
    throw new Error(
      `path must be a checkpoint directory (with ${STATE_FILE}) or a directory of checkpoints (with ${MANIFEST_FILE}); ` +
        `found neither in ${target}`
    );
  }
  const manifest = (await readJson(fileSystem, manifestFile)) as Partial<CheckpointManifest>;
  const name = which === 'best' ? manifest.best?.name : manifest.latest;
  if (typeof name !== 'string' || name === '') {
    throw new Error(`${manifestFile} names no ${which} checkpoint${which === 'best' ? ' (was saveBest on?)' : ''}`);
  }
  const directory = path.join(target, name);
  if (!(await fileSystem.exists(path.join(directory, STATE_FILE)))) {
    throw new Error(
      `${manifestFile} names "${name}" as the ${which} checkpoint, but ${directory} has no ${STATE_FILE} ` +
        '(the manifest was edited, or the checkpoint deleted)'
    );
  }
  return directory;
}

/** Checks the shape of a parsed `model.json`: a weights manifest whose entries have a name, a shape and a dtype. */
function checkModelJson(value: unknown, file: string): CheckpointModelJson {
  const json = value as Partial<CheckpointModelJson> | null;
  if (typeof json !== 'object' || json === null || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${file} is not a checkpoint's model.json: it has no weightsManifest`);
  }
  for (const group of json.weightsManifest) {
    for (const spec of (group as { weights?: unknown })?.weights as Partial<tf.io.WeightsManifestEntry>[] ?? [null]) {
      const valid =
        typeof spec?.name === 'string' &&
        typeof spec.dtype === 'string' &&
        Array.isArray(spec.shape) &&
        spec.shape.every((d) => Number.isInteger(d) && d >= 0);
      if (!valid) {
        throw new Error(
          `${file} is corrupt: each weight must have a name, a dtype and a shape of non-negative integers ` +
            `(received ${JSON.stringify(spec)})`
        );
      }
    }
  }
  return json as CheckpointModelJson;
}

/** Reads a checkpoint (see {@link resolveCheckpoint} for what `target` may be). */
export async function readCheckpoint(
  fileSystem: CheckpointFileSystem,
  target: string,
  which: 'latest' | 'best' = 'latest'
): Promise<Checkpoint> {
  if (typeof target === 'string' && isTemporaryName(path.basename(target))) {
    throw new Error(
      `${target} is a half-written checkpoint left by an interrupted save (a temporary directory); load the ` +
        'directory of checkpoints or a complete checkpoint instead'
    );
  }
  const directory = await resolveCheckpoint(fileSystem, target, which);
  for (const file of [MODEL_FILE, WEIGHTS_FILE]) {
    if (!(await fileSystem.exists(path.join(directory, file)))) {
      throw new Error(`checkpoint ${directory} is incomplete: ${file} is missing (a half-written or edited checkpoint)`);
    }
  }
  const stateFile = path.join(directory, STATE_FILE);
  const state = checkState(await readJson(fileSystem, stateFile), stateFile);
  const modelFile = path.join(directory, MODEL_FILE);
  const model = checkModelJson(await readJson(fileSystem, modelFile), modelFile);
  const weights = await fileSystem.readFile(path.join(directory, WEIGHTS_FILE));
  return { directory, state, model, weights };
}
