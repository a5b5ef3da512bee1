/**
 * Thrown when a run (`evaluate`, `predict`, an LR finder, a TTA pass, a pseudolabel round…) was interrupted — by
 * SIGINT (Ctrl-C in a terminal, Kernel › Interrupt in Jupyter) or by an aborted `AbortSignal` — at a batch boundary.
 * Whatever the run completed before that boundary stays done; `fit` throws the subclass {@link FitInterrupted}.
 *
 * @example
 * ```ts
 * import { Interrupted } from '@convkit/learner';
 * try {
 *   await learner.validate();
 * } catch (error) {
 *   if (!(error instanceof Interrupted)) throw error;
 *   console.log(error.message); // "validate interrupted at batch 3 (SIGINT)"
 * }
 * ```
 */
export class Interrupted extends Error {
  /** What was interrupted, e.g. `'fit'`, `'validate'`, `'predict'`. */
  readonly operation: string;
  /** `'SIGINT'`, or the abort reason of the signal (`'abort'` when it gave none). */
  readonly reason: string;

  constructor(operation: string, where: string, reason: string) {
    super(`${operation} interrupted at ${where} (${reason})`);
    this.name = new.target.name;
    this.operation = operation;
    this.reason = reason;
  }
}

/**
 * Thrown by `learner.fit` when it was interrupted (SIGINT or `FitOptions.signal`). The fit stopped at a batch
 * boundary and ran `afterFit` (progress closed, checkpoints and loggers flushed); `history.stopReason` holds the
 * message, and the learner keeps the weights, optimizer state and history (`learner.history.steps`) of the last
 * completed step, so the next cell can evaluate, plot or resume.
 *
 * The message reads `fit interrupted at epoch E, batch B (reason)`: `E` is 1-based (the epoch that was running) and
 * `B` counts the training batches of that epoch that completed (so `B` is the 1-based number of the last completed
 * batch; 0 when none of that epoch had run). The same numbers are on {@link FitInterrupted.epoch} (0-based, like
 * `ctx.epoch`) and {@link FitInterrupted.batch}.
 *
 * @example
 * ```ts
 * import { FitInterrupted } from '@convkit/learner';
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 5000);
 * try {
 *   await learner.fit(10, { signal: controller.signal });
 * } catch (error) {
 *   if (!(error instanceof FitInterrupted)) throw error;
 *   console.log(error.message, learner.history.steps.length); // fit interrupted at epoch 2, batch 7 (abort) …
 * }
 * ```
 */
export class FitInterrupted extends Interrupted {
  /** The 0-based epoch that was running (as `ctx.epoch`). */
  readonly epoch: number;
  /** Training batches of that epoch that completed before the stop. */
  readonly batch: number;
  /** Optimizer steps the learner completed (over its life) when it stopped. */
  readonly step: number;

  constructor(epoch: number, batch: number, step: number, reason: string) {
    super('fit', `epoch ${epoch + 1}, batch ${batch}`, reason);
    this.epoch = epoch;
    this.batch = batch;
    this.step = step;
  }
}

/** A run's interrupt switch, from {@link interruptible}. */
export interface Interruption {
  /** Whether SIGINT arrived or the signal aborted since the switch was made. */
  readonly interrupted: boolean;
  /** Why (`'SIGINT'`, or the abort reason), once interrupted. */
  readonly reason: string | undefined;
  /** Throws an {@link Interrupted} for `operation` at `where` if interrupted. */
  check(operation: string, where: string): void;
  /**
   * At a batch boundary: yields to the event loop once (so that a SIGINT or a timer that aborts the signal is seen
   * even when the batches themselves never wait for I/O), then `check`s.
   */
  boundary(operation: string, where: string): Promise<void>;
  /** Removes the SIGINT listener; call it when the run ends (in `finally`). Idempotent. */
  dispose(): void;
}

/** Resolves after the event loop has run once (signal handlers, timers, I/O callbacks). */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.name === 'AbortError' ? 'abort' : reason.message;
  return reason === undefined ? 'abort' : String(reason);
}

/**
 * Makes an interrupt switch for a run: it listens for SIGINT (with `process.once`, so a second Ctrl-C still kills
 * the process) and watches `signal`. The run awaits `boundary` at each batch boundary (which yields to the event loop
 * once, so the signal is seen, then throws {@link Interrupted} if it came) and calls `dispose` when it ends; the
 * listener exists only while the run does, so SIGINT keeps its default effect (exit) when nothing runs.
 *
 * Why: a Jupyter kernel interrupt or Ctrl-C should stop training at the next batch and keep what was done, as
 * fastai's KeyboardInterrupt handling does, rather than end the cell while the loop runs on in the background.
 * `learner.fit`, `validate` and `predict` use it; the LR finder, TTA and pseudolabel rounds use it too.
 *
 * @param signal - An optional `AbortSignal`; aborting it interrupts the run. Defaults to none (SIGINT only).
 * @returns A switch whose `dispose()` the caller must call.
 *
 * @example
 * ```ts
 * import { interruptible } from '@convkit/learner';
 * const interruption = interruptible(options.signal);
 * try {
 *   for (let round = 0; round < rounds; round++) {
 *     await interruption.boundary('pseudolabel', `round ${round + 1}`);
 *     await runRound(round);
 *   }
 * } finally {
 *   interruption.dispose();
 * }
 * ```
 */
export function interruptible(signal?: AbortSignal): Interruption {
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || typeof (signal as Partial<AbortSignal>).aborted !== 'boolean')
  ) {
    throw new Error(`signal must be an AbortSignal (received ${signal === null ? 'null' : typeof signal})`);
  }
  let sigint = false;
  const onSigint = (): void => {
    sigint = true;
  };
  const hasProcess = typeof process !== 'undefined' && typeof process.once === 'function';
  let disposed = false;
  // Added from a microtask, not now: tslab runs a cell's synchronous part under vm's `breakOnSigint`, and a SIGINT
  // listener added there is lost when that part ends (Node leaves SIGINT at its default, exit), so the next kernel
  // interrupt would kill the kernel. A microtask runs after the cell's synchronous part.
  if (hasProcess) {
    queueMicrotask(() => {
      if (!disposed) process.once('SIGINT', onSigint);
    });
  }
  const reason = (): string | undefined => {
    if (sigint) return 'SIGINT';
    if (signal?.aborted) return abortReason(signal);
    return undefined;
  };
  return {
    get interrupted() {
      return reason() !== undefined;
    },
    get reason() {
      return reason();
    },
    check(operation, where) {
      const why = reason();
      if (why !== undefined) throw new Interrupted(operation, where, why);
    },
    async boundary(operation, where) {
      await nextMacrotask();
      this.check(operation, where);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (hasProcess) process.removeListener('SIGINT', onSigint);
    },
  };
}
