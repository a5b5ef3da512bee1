import { appendFile, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@convkit/io';
import type { EpochRecord, LoopContext, Plugin, StepRecord } from '@convkit/learner';
import { checkFlushEvery, checkPath, epochsAfter, fitStartStep, isResumed, stepsAfter } from './run-records.js';

/** Options of {@link jsonlLogger}. */
export interface JsonlLoggerOptions {
  /** Keep the lines already in the file (a fresh fit appends); `false` empties the file at the fit's start. Defaults to false. */
  readonly append?: boolean;
  /**
   * Also write the step lines every this many steps during an epoch (one device read of the pending losses each
   * time); otherwise they are written at each epoch end, with no extra device read. Defaults to undefined.
   */
  readonly flushEvery?: number;
}

/** A line of a {@link jsonlLogger} file for one optimizer step. */
export interface JsonlStepLine extends StepRecord {
  /** Always `'step'`. */
  readonly type: 'step';
}

/** A line of a {@link jsonlLogger} file for one epoch. */
export interface JsonlEpochLine extends EpochRecord {
  /** Always `'epoch'`. */
  readonly type: 'epoch';
}

/** The plugin returned by {@link jsonlLogger}. */
export interface JsonlLoggerPlugin extends Plugin {
  /** The file written. */
  readonly path: string;
}

type Line = { type?: unknown; step?: unknown };

/** The lines of `text` that parse as JSON objects and pass `keep`. */
function keptLines(text: string, keep: (line: Line) => boolean): { raw: string; line: Line }[] {
  const kept: { raw: string; line: Line }[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      continue; // a line torn by a crash
    }
    if (keep(line)) kept.push({ raw, line });
  }
  return kept;
}

const stepOf = (line: Line): number => (typeof line.step === 'number' ? line.step : -1);

/**
 * A plugin that writes the run as JSON lines: one `{"type":"step", step, epoch, batch, loss, hypers}` line per
 * optimizer step and one `{"type":"epoch", epoch, step, seconds, train, valid, hypers}` line per epoch, for `jq`,
 * pandas (`read_json(path, lines=True)`) or any log shipper. Non-finite numbers are written as `null`.
 *
 * Why: the CSV has one row per epoch; the per-step losses and rates (the curve inside an epoch, a spike before a
 * divergence) need a line per step, in a format that appends as the run goes.
 *
 * Lines are appended, at each epoch end (from the learner's history, so no extra device read) or every
 * `flushEvery` steps. A resumed fit (`fit(epochs, { resume })`) keeps the file, drops the lines of steps at or after
 * the checkpoint's step (written before a crash, and about to be run again), and writes the checkpoint's own steps
 * and epochs that the file lacks. `hypers` holds the history's keys: with parameter groups, `learningRate/1`, … for
 * groups 1, ….
 *
 * @param path - the `.jsonl` file; parent folders are created.
 * @param options - `append` (defaults to false), `flushEvery` (steps, defaults to epoch ends only).
 *
 * @example
 * ```ts
 * import { jsonlLogger } from '@convkit/loggers';
 * const plugins = [jsonlLogger('runs/demo/log.jsonl')];
 * // then: jq -c 'select(.type == "step") | [.step, .loss]' runs/demo/log.jsonl
 * ```
 */
export function jsonlLogger(path: string, options: JsonlLoggerOptions = {}): JsonlLoggerPlugin {
  checkPath('path', path);
  const flushEvery = checkFlushEvery(options.flushEvery);
  const append = options.append ?? false;
  if (typeof append !== 'boolean') throw new Error(`append must be a boolean (received ${JSON.stringify(append)})`);
  let lastStep = -1;
  let lastEpochStep = -1;

  const write = async (lines: readonly object[]): Promise<void> => {
    if (lines.length > 0) await appendFile(path, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
  };
  const writeSteps = async (ctx: LoopContext): Promise<void> => {
    const steps = stepsAfter(ctx.history, lastStep);
    await write(steps.map((record) => ({ type: 'step', ...record })));
    if (steps.length > 0) lastStep = steps.at(-1)!.step;
  };
  const writeEpochs = async (ctx: LoopContext): Promise<void> => {
    const epochs = epochsAfter(ctx.history, lastEpochStep);
    await write(epochs.map((record) => ({ type: 'epoch', ...record })));
    if (epochs.length > 0) lastEpochStep = epochs.at(-1)!.step;
  };

  return {
    name: 'jsonlLogger',
    order: -50,
    path,
    async beforeFit(ctx) {
      const start = fitStartStep(ctx);
      lastStep = start - 1;
      lastEpochStep = start - 1;
      if (!isResumed(ctx) && !append) {
        await writeFileAtomic(path, '');
        return;
      }
      const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return '';
        throw error;
      });
      const resumedAt = isResumed(ctx) ? ctx.step : Infinity;
      const kept = keptLines(text, (line) => (line.type === 'epoch' ? stepOf(line) <= resumedAt : stepOf(line) < resumedAt));
      for (const { line } of kept) {
        if (resumedAt === Infinity) break; // appending to another run's lines: none of this fit's is written yet
        const step = stepOf(line);
        if (line.type === 'step' && step >= start) lastStep = Math.max(lastStep, step);
        if (line.type === 'epoch' && step >= start) lastEpochStep = Math.max(lastEpochStep, step);
      }
      await writeFileAtomic(path, kept.map(({ raw }) => `${raw}\n`).join(''));
    },
    async afterBatch(ctx) {
      if (flushEvery === undefined || (ctx.fitStep + 1) % flushEvery !== 0) return;
      await ctx.runningLoss(); // reads the pending losses, which moves their step records into the history
      await writeSteps(ctx);
    },
    async afterEpoch(ctx) {
      await writeSteps(ctx);
      await writeEpochs(ctx);
    },
    async afterFit(ctx) {
      await writeSteps(ctx);
      await writeEpochs(ctx);
    },
  };
}
