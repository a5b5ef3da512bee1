import type { Rng } from '@convkit/core';
import type { BatchSource } from './batch-source.js';
import type { CheckpointFileSystem } from './checkpoint-io.js';
import { readCheckpoint, type Checkpoint, type CheckpointState } from './checkpoint-state.js';
import { applyWeights } from './checkpoint-weights.js';
import { readHypers, type LoopContext } from './context.js';
import { isHyperKey, setHyperByKey } from './group-hypers.js';
import type { History } from './history.js';
import type { Metric } from './metrics.js';
import type { LearnerModel } from './model.js';
import type { OptimizerLike } from './optimizer.js';
import type { Plugin } from './plugin.js';

/** What a checkpoint reads from and restores into a learner. */
export interface LearnerParts {
  model: LearnerModel;
  optimizer: OptimizerLike;
  train: BatchSource;
  rng: Rng;
  steps: { count: number };
}

/** A checkpoint's state without its header, as the learner or a running fit captures it. */
export type CapturedState = Omit<CheckpointState, 'format' | 'version' | 'savedAt'>;

/** A running fit's state in `afterBatch` (`inBatch`: the batch counts as done) or `afterEpoch`. */
export async function captureRun(
  run: LearnerParts & {
    plugins: readonly Plugin[];
    ctx: LoopContext;
    step: number;
    fitStartStep: number;
    fitStartHypers: Record<string, number>;
    inBatch: boolean;
    epochLosses: { value: number; size: number }[];
    metrics: readonly Metric[];
  }
): Promise<CapturedState> {
  const { ctx, inBatch, step } = run;
  const metrics: Record<string, unknown> = {};
  if (inBatch) {
    for (const metric of run.metrics) {
      if (typeof metric.getState === 'function') metrics[metric.name] = structuredClone(await metric.getState());
    }
  }
  return {
    position: {
      epoch: inBatch ? ctx.epoch : ctx.epoch + 1,
      batch: inBatch ? ctx.batchIndex + 1 : 0,
      step,
      fitStep: step - run.fitStartStep,
      epochs: ctx.epochs,
    },
    rng: run.rng.getState(),
    optimizer: (await run.optimizer.getState?.()) ?? null,
    hypers: readHypers(run.optimizer),
    fitStartHypers: { ...run.fitStartHypers },
    plugins: pluginStates(run.plugins),
    train: sourceState(run.train),
    epochLosses: run.epochLosses,
    metrics,
    lastMetrics: structuredClone(ctx.lastMetrics),
    history: structuredClone(ctx.history),
  };
}

/** The state of a learner between fits: the next fit would start a new epoch after the last one recorded. */
export async function idleState(
  parts: LearnerParts & { history: History; plugins: readonly Plugin[]; fitStartHypers: Record<string, number> | undefined }
): Promise<CapturedState> {
  const { history, optimizer } = parts;
  const last = history.epochs.at(-1);
  return {
    position: {
      epoch: history.epochs.length,
      batch: 0,
      step: parts.steps.count,
      fitStep: history.steps.length,
      epochs: history.epochs.length,
    },
    rng: parts.rng.getState(),
    optimizer: (await optimizer.getState?.()) ?? null,
    hypers: readHypers(optimizer),
    fitStartHypers: parts.fitStartHypers ?? readHypers(optimizer),
    plugins: pluginStates(parts.plugins),
    train: sourceState(parts.train),
    epochLosses: [],
    metrics: {},
    lastMetrics: { train: { ...(last?.train ?? {}) }, valid: { ...(last?.valid ?? {}) } },
    history: structuredClone(history),
  };
}

/**
 * Reads a checkpoint to resume, checks it against the fit, and restores what must be in place before `beforeFit`:
 * the weights, the optimizer's slots and the step counter. The rest is restored by the fit after `beforeFit`.
 */
export async function prepareResume(
  parts: LearnerParts,
  resume: string | Checkpoint,
  epochs: number,
  fileSystem: CheckpointFileSystem
): Promise<CheckpointState> {
  const checkpoint = typeof resume === 'string' ? await readCheckpoint(fileSystem, resume) : resume;
  if (typeof checkpoint !== 'object' || checkpoint === null || typeof checkpoint.state !== 'object') {
    throw new Error(`resume must be a checkpoint path or a Checkpoint from loadCheckpoint (received ${typeof resume})`);
  }
  const { state } = checkpoint;
  if (epochs <= state.position.epoch) {
    throw new Error(
      `epochs must exceed the checkpoint's epoch ${state.position.epoch} when resuming (received ${epochs}); ` +
        'with resume, epochs is the total of the original fit'
    );
  }
  const length = parts.train.length;
  if (length !== undefined && state.position.batch > length) {
    throw new Error(`the checkpoint stands at batch ${state.position.batch} of its epoch, but train has only ${length} batches`);
  }
  applyWeights(parts.model, checkpoint.model, checkpoint.weights, checkpoint.directory);
  // The slots now, with the hyperparameters the original fit started with: its beforeFit hooks (schedulers that
  // remember the initial rate) see what they saw then. The current ones are set after beforeFit, in `restore`.
  await restoreOptimizer(parts.optimizer, state);
  restoreHypers(parts.optimizer, state.fitStartHypers ?? state.hypers);
  parts.steps.count = state.position.step;
  return state;
}

/** A training source that can say where it stands and resume there (a `DataLoader` is one). */
interface StatefulSource {
  getState(): unknown;
  setState(state: unknown): void;
}

function isStateful(source: BatchSource | undefined): source is BatchSource & StatefulSource {
  const candidate = source as Partial<StatefulSource> | undefined;
  return typeof candidate?.getState === 'function' && typeof candidate.setState === 'function';
}

/** The training source's state, or `null` for a source without `getState`/`setState`. */
export function sourceState(train: BatchSource): unknown {
  return isStateful(train) ? structuredClone(train.getState()) : null;
}

/**
 * Restores the training source. Returns how many batches of the resumed epoch the loop must still skip itself:
 * none for a stateful source (it resumes on its own), `batch` for a plain one, which must then yield the same
 * batches in every epoch for the resume to be exact.
 */
export function restoreSource(train: BatchSource, saved: unknown, batch: number): number {
  if (saved === null || saved === undefined) return batch;
  if (!isStateful(train)) {
    throw new Error(
      'the checkpoint holds the training source\'s state, but train has no setState; resume with the same kind ' +
        'of source (e.g. a DataLoader)'
    );
  }
  train.setState(structuredClone(saved));
  return 0;
}

/** Each plugin's `getState()`, by name. */
export function pluginStates(plugins: readonly Plugin[]): Record<string, unknown> {
  const states: Record<string, unknown> = {};
  for (const p of plugins) {
    if (typeof p.getState === 'function') states[p.name] = structuredClone(p.getState());
  }
  return states;
}

/**
 * Gives each plugin of the fit its saved state. A saved state whose plugin is not in this fit is ignored (the
 * plugin was removed); a plugin with a saved state but no `setState` is an error.
 */
export function restorePlugins(plugins: readonly Plugin[], saved: Record<string, unknown>): void {
  for (const p of plugins) {
    if (!(p.name in saved)) continue;
    if (typeof p.setState !== 'function') {
      throw new Error(`the checkpoint holds state for plugin "${p.name}", which has no setState to restore it`);
    }
    p.setState(structuredClone(saved[p.name]));
  }
}

/**
 * Gives each metric its saved accumulated state (a checkpoint taken mid-epoch), so the resumed epoch's metrics
 * cover the whole epoch. Metrics without `setState`, or absent from the checkpoint (older checkpoints), start empty.
 */
export function restoreMetrics(metrics: readonly Metric[], saved: Record<string, unknown> | undefined): void {
  for (const metric of metrics) {
    if (saved === undefined || !(metric.name in saved) || typeof metric.setState !== 'function') continue;
    metric.setState(structuredClone(saved[metric.name]));
  }
}

/** Restores the optimizer's slots and hyperparameters. */
export async function restoreOptimizer(optimizer: OptimizerLike, state: CheckpointState): Promise<void> {
  if (state.optimizer !== null && state.optimizer !== undefined) {
    if (typeof optimizer.setState !== 'function') {
      throw new Error('the checkpoint holds optimizer state, but the optimizer has no setState to restore it');
    }
    await optimizer.setState(state.optimizer);
  }
  restoreHypers(optimizer, state.hypers);
}

/** Sets the saved hyperparameters that the optimizer has. */
export function restoreHypers(optimizer: OptimizerLike, hypers: Record<string, number>): void {
  for (const [name, value] of Object.entries(hypers)) {
    if (isHyperKey(optimizer, name)) setHyperByKey(optimizer, name, value);
  }
}
