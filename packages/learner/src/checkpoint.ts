import * as path from 'node:path';
import { isTemporaryName, nodeFileSystem, readJson, writeFileAtomic, type CheckpointFileSystem } from './checkpoint-io.js';
import { MANIFEST_FILE, type CheckpointManifest } from './checkpoint-state.js';
import type { LoopContext, Plugin } from './loop-types.js';

/** Options of {@link checkpoint}. */
export interface CheckpointOptions {
  /** The directory that holds the checkpoints (one sub-directory each) and `manifest.json`. Created if absent. */
  dir: string;
  /** Save every `steps` optimizer steps (in `afterBatch`) or every `epochs` epochs (in `afterEpoch`). Defaults to `{ epochs: 1 }`. */
  every?: { steps: number } | { epochs: number };
  /** How many of the newest checkpoints to keep; older ones are deleted, except the best. Defaults to 3. */
  keepLast?: number;
  /** The metric that picks the best checkpoint, `'<split>.<metric>'` as in `'valid.loss'`. Defaults to `'valid.loss'`. */
  monitor?: string;
  /** `'min'`, `'max'`, or `'auto'`: max for accuracy-like names (acc, auc, f1, precision, recall), else min. Defaults to `'auto'`. */
  mode?: 'auto' | 'min' | 'max';
  /** Also save at each epoch end where `monitor` improves, and keep that checkpoint as `best`. Defaults to false. */
  saveBest?: boolean;
  /** The plugin's name. Defaults to `'checkpoint'`. */
  name?: string;
  /** The file system (tests inject failures here). Defaults to Node's, with fsync. */
  fileSystem?: CheckpointFileSystem;
}

/** The state a {@link checkpoint} plugin saves in each checkpoint (so a resumed run keeps tracking the best). */
export interface CheckpointPluginState {
  best: number | null;
  bestName: string | null;
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer (received ${String(value)})`);
  }
  return value;
}

function parseEvery(every: CheckpointOptions['every']): { unit: 'steps' | 'epochs'; count: number } {
  const value = every ?? { epochs: 1 };
  const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  if (keys.length !== 1 || (keys[0] !== 'steps' && keys[0] !== 'epochs')) {
    throw new Error(`every must be { steps: n } or { epochs: n } (received ${JSON.stringify(every)})`);
  }
  const unit = keys[0] as 'steps' | 'epochs';
  return { unit, count: positiveInteger(`every.${unit}`, (value as Record<string, unknown>)[unit]) };
}

function parseMonitor(monitor: string, mode: 'auto' | 'min' | 'max'): { split: 'train' | 'valid'; metric: string; sign: 1 | -1 } {
  const match = typeof monitor === 'string' ? /^(train|valid)\.(.+)$/.exec(monitor) : null;
  if (match === null) throw new Error(`monitor must look like "valid.loss" or "train.accuracy" (received ${JSON.stringify(monitor)})`);
  if (!['auto', 'min', 'max'].includes(mode)) throw new Error(`mode must be "auto", "min" or "max" (received ${JSON.stringify(mode)})`);
  const maximise = mode === 'max' || (mode === 'auto' && /acc|auc|f1|precision|recall/i.test(match[2]!));
  return { split: match[1] as 'train' | 'valid', metric: match[2]!, sign: maximise ? -1 : 1 };
}

/**
 * Saves checkpoints during a fit: every N steps or epochs, keeping the last K, and the best by a monitored metric
 * (Keras `ModelCheckpoint`, fastai `SaveModelCallback`), each a directory written by `learner.saveCheckpoint`
 * (weights, topology, optimizer, `Rng`, epoch, batch and step, history, every plugin's state and the data
 * loader's position), named `step-<steps>`. `fit(epochs, { resume: dir })` continues from the latest one.
 *
 * Why: a long run survives a crash and resumes exactly — to the bit on the same backend — even mid-epoch.
 *
 * Crash safety: each checkpoint is written into a temporary directory (every file fsynced), then renamed; then
 * `manifest.json` (the latest, the best, the kept list) is replaced atomically, and only then are old checkpoints
 * deleted. A process killed at any point leaves the manifest naming a complete checkpoint.
 *
 * Order 70: after schedulers and monitors, whose `afterBatch`/`afterEpoch` changes must be in the checkpoint. A
 * plugin with a higher order that changes its state in those hooks is saved before that change.
 *
 * Options: `dir` (required); `every` (defaults to `{ epochs: 1 }`); `keepLast` (defaults to 3); `monitor`
 * (defaults to `'valid.loss'`); `mode` (defaults to `'auto'`); `saveBest` (defaults to false); `name` (defaults
 * to `'checkpoint'`); `fileSystem` (defaults to Node's). Holds no tensors.
 *
 * @example
 * ```ts
 * import { Learner, checkpoint } from '@convkit/learner';
 * const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, valid,
 *   plugins: [checkpoint({ dir: 'runs/a', every: { steps: 100 }, keepLast: 2, saveBest: true })] });
 * await learner.fit(10);                           // killed at some point? then, in a new process:
 * await learner.fit(10, { resume: 'runs/a' });     // continues from the latest checkpoint
 * ```
 */
export function checkpoint(options: CheckpointOptions): Plugin & {
  getState(): CheckpointPluginState;
  setState(state: unknown): void;
} {
  if (typeof options !== 'object' || options === null) throw new Error(`options must be an object (received ${String(options)})`);
  const { dir, keepLast = 3, monitor = 'valid.loss', mode = 'auto', saveBest = false } = options;
  if (typeof dir !== 'string' || dir === '') throw new Error(`dir must be a non-empty path (received ${JSON.stringify(dir)})`);
  const every = parseEvery(options.every);
  positiveInteger('keepLast', keepLast);
  const watched = parseMonitor(monitor, mode);
  const fileSystem = options.fileSystem ?? nodeFileSystem;
  let best: number | null = null;
  let bestName: string | null = null;
  let stepCancelled = false;
  let stepApplied = false;

  const save = async (ctx: LoopContext, value: number | undefined, asBest: boolean): Promise<void> => {
    const manifestFile = path.join(dir, MANIFEST_FILE);
    const manifest: CheckpointManifest = (await fileSystem.exists(manifestFile))
      ? ((await readJson(fileSystem, manifestFile)) as CheckpointManifest)
      : { format: 'convkit-checkpoints', version: 1, latest: '', checkpoints: [] };
    const name = `step-${String(ctx.step + (stepApplied ? 1 : 0)).padStart(8, '0')}`;
    let entry = manifest.checkpoints.find((c) => c.name === name);
    if (entry === undefined) {
      // Saved in afterBatch at this very step, the checkpoint is only marked best here; else write it now.
      await fileSystem.remove(path.join(dir, name)); // an orphan of a save killed before its manifest, if any
      const saved = await ctx.learner.saveCheckpoint(path.join(dir, name), { fileSystem });
      entry = { name, epoch: saved.position.epoch, batch: saved.position.batch, step: saved.position.step };
      manifest.checkpoints.push(entry);
      manifest.latest = name;
    }
    if (value !== undefined) entry.value = value;
    if (asBest) {
      manifest.best = { ...entry, monitor };
      bestName = name;
    }
    const newest = new Set(manifest.checkpoints.slice(-keepLast).map((c) => c.name));
    manifest.checkpoints = manifest.checkpoints.filter((c) => newest.has(c.name) || c.name === manifest.best?.name);
    await writeFileAtomic(manifestFile, JSON.stringify(manifest, null, 1), { fileSystem });
    const keep = new Set([...manifest.checkpoints.map((c) => c.name), manifest.best?.name, MANIFEST_FILE]);
    for (const entry of await fileSystem.list(dir)) {
      if (isTemporaryName(entry) || (/^step-\d+$/.test(entry) && !keep.has(entry))) await fileSystem.remove(path.join(dir, entry));
    }
  };

  return {
    name: options.name ?? 'checkpoint',
    order: 70,
    beforeFit() {
      best = null;
      bestName = null;
    },
    beforeBatch() {
      stepCancelled = false;
      stepApplied = false;
    },
    afterCancelStep() {
      stepCancelled = true;
    },
    afterStep() {
      stepApplied = !stepCancelled;
    },
    async afterBatch(ctx) {
      if (every.unit === 'steps' && stepApplied && (ctx.step + 1) % every.count === 0) await save(ctx, undefined, false);
      stepApplied = false;
    },
    async afterEpoch(ctx) {
      const periodic = every.unit === 'epochs' && (ctx.epoch + 1) % every.count === 0;
      let value: number | undefined;
      let improved = false;
      if (saveBest) {
        const record = ctx.history.epochs.at(-1)?.[watched.split] ?? {};
        value = record[watched.metric];
        if (value === undefined) {
          throw new Error(
            `monitor "${monitor}" is not in the epoch's ${watched.split} metrics (available: ${Object.keys(record).join(', ') || 'none'})`
          );
        }
        improved = Number.isFinite(value) && (best === null || watched.sign * value < watched.sign * best);
        if (improved) best = value;
      }
      if (periodic || improved) await save(ctx, value, improved);
    },
    getState: () => ({ best, bestName }),
    setState(state) {
      const saved = state as Partial<CheckpointPluginState> | null;
      if (typeof saved !== 'object' || saved === null || !('best' in saved)) {
        throw new Error(`state must be { best, bestName } from getState (received ${JSON.stringify(state)})`);
      }
      best = saved.best ?? null;
      bestName = saved.bestName ?? null;
    },
  };
}
