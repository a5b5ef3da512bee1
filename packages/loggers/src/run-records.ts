// What every run logger reads from a fit: whether it resumes a checkpoint, and the steps and epochs not yet written.
import type { EpochRecord, History, LoopContext, StepRecord } from '@convkit/learner';

/** True in `beforeFit` of a fit that resumes a checkpoint (it starts with steps or epochs already done). */
export function isResumed(ctx: LoopContext): boolean {
  return ctx.fitStep > 0 || ctx.history.epochs.length > 0;
}

/** The learner's step count when this fit started (before its first step, also for a resumed fit). */
export function fitStartStep(ctx: LoopContext): number {
  return ctx.step - ctx.fitStep;
}

/** The step records of `history` with `step` above `after`, in order. */
export function stepsAfter(history: History, after: number): StepRecord[] {
  let first = history.steps.length;
  while (first > 0 && history.steps[first - 1]!.step > after) first--;
  return history.steps.slice(first);
}

/** The epoch records of `history` whose `step` is above `after`, in order. */
export function epochsAfter(history: History, after: number): EpochRecord[] {
  let first = history.epochs.length;
  while (first > 0 && history.epochs[first - 1]!.step > after) first--;
  return history.epochs.slice(first);
}

/** Checks a `flushEvery` option: a positive integer number of steps, or undefined. */
export function checkFlushEvery(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`flushEvery must be a positive integer number of steps (received ${JSON.stringify(value)})`);
  }
  return value;
}

/** Checks a file path option. */
export function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new Error(`${name} must be a non-empty path (received ${JSON.stringify(value)})`);
  }
  return value;
}
