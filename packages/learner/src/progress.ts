import cliProgress from 'cli-progress';
import type { LoopContext } from './context.js';
import type { Plugin } from './plugin.js';
import { formatEpochSummary, formatEta, formatMetrics, formatProgressLine, formatRate } from './progress-format.js';

/** A tslab display (`tslab.newDisplay()`) or anything with a `text(s)` that replaces its output. */
export interface TextDisplay {
  text(s: string): void;
}

/** The stream progress is written to: `process.stdout` or a test double. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of {@link progressBar}. */
export interface ProgressBarOptions {
  /**
   * `'terminal'`: a live `cli-progress` bar per epoch, then a summary line. `'lines'`: plain lines, about one per
   * 10% of an epoch plus the summary, no ANSI codes (for CI and logs). `'none'`: nothing. `'auto'` picks
   * `'terminal'` when the stream is a TTY, else `'lines'`. Ignored when `display` is given. Defaults to `'auto'`.
   */
  output?: 'auto' | 'terminal' | 'lines' | 'none';
  /** A notebook display (tslab `newDisplay()`): one live line, updated at most every 250 ms, plus the summaries. */
  display?: TextDisplay;
  /** Where terminal and line output go. Defaults to `process.stdout`. */
  stream?: ProgressStream;
}

type Mode = 'terminal' | 'lines' | 'none' | 'display';

const TERMINAL_INTERVAL_MS = 100;
const DISPLAY_INTERVAL_MS = 250;
const LINES_FALLBACK_INTERVAL_MS = 10_000;

/**
 * Shows training progress: per-batch progress (batch/total, samples per second, ETA, running loss and metrics) and
 * a summary line per epoch (epoch, train and valid metrics, seconds, samples per second). Runs after every other
 * plugin (`order: 100`) so it shows values the others have settled.
 *
 * Running values are read from the device only when a line is drawn (at most every 100 ms in a terminal, every
 * 250 ms in a notebook, every ~10% of an epoch in line mode), in one read for all the losses since the last one.
 *
 * @param options - See {@link ProgressBarOptions}.
 * @returns A plugin named `'progressBar'`.
 *
 * @example
 * ```ts
 * import { progressBar } from '@convkit/learner';
 * // in a script: a bar in a terminal, plain lines in CI
 * const progress = progressBar();
 * // in a tslab notebook: progressBar({ display: tslab.newDisplay() })
 * ```
 */
export function progressBar(options: ProgressBarOptions = {}): Plugin {
  const output = options.output ?? 'auto';
  if (!['auto', 'terminal', 'lines', 'none'].includes(output)) {
    throw new Error(`output must be 'auto', 'terminal', 'lines' or 'none' (received ${JSON.stringify(output)})`);
  }
  if (options.display !== undefined && typeof options.display.text !== 'function') {
    throw new Error('display must have a text(s) method (a tslab newDisplay() object)');
  }
  const stream: ProgressStream = options.stream ?? process.stdout;
  let mode: Mode = 'none';
  let bar: cliProgress.SingleBar | undefined;
  let epochStart = 0;
  let trainSeconds = 0;
  let samples = 0;
  let batches = 0;
  let lastDraw = 0;
  let lastDecile = 0;
  let summaries: string[] = [];
  let printedEpoch = -1;

  const running = async (ctx: LoopContext): Promise<Record<string, number>> => {
    const values: Record<string, number> = { loss: await ctx.runningLoss() };
    for (const metric of ctx.learner.metrics) values[metric.name] = await metric.compute();
    return values;
  };
  const line = async (ctx: LoopContext, elapsed: number): Promise<string> =>
    formatProgressLine({
      epoch: ctx.epoch,
      epochs: ctx.epochs,
      batches,
      total: ctx.batchesPerEpoch,
      samplesPerSecond: samples / elapsed,
      elapsedSeconds: elapsed,
      running: await running(ctx),
    });
  const stopBar = (): void => {
    bar?.stop();
    bar = undefined;
  };
  /** Whether line mode is due for a line: each new tenth of a known epoch, or every 10 s otherwise. */
  const lineDue = (now: number, total: number | undefined): boolean => {
    if (total === undefined || total <= 0) return now - lastDraw >= LINES_FALLBACK_INTERVAL_MS;
    const decile = Math.floor((batches * 10) / total);
    if (decile <= lastDecile || batches === total) return false;
    lastDecile = decile;
    return true;
  };
  const draw = async (ctx: LoopContext, now: number): Promise<void> => {
    if (mode === 'terminal' && bar !== undefined) {
      if (now - lastDraw < TERMINAL_INTERVAL_MS && batches !== ctx.batchesPerEpoch) return;
      lastDraw = now;
      bar.update(batches, {
        rate: formatRate(samples / trainSeconds),
        timeLeft: formatEta(batches, ctx.batchesPerEpoch, trainSeconds),
        metrics: formatMetrics(await running(ctx)),
      });
    } else if (mode === 'lines' && lineDue(now, ctx.batchesPerEpoch)) {
      lastDraw = now;
      stream.write(`${await line(ctx, trainSeconds)}\n`);
    } else if (mode === 'display' && now - lastDraw >= DISPLAY_INTERVAL_MS) {
      lastDraw = now;
      options.display!.text([...summaries, await line(ctx, trainSeconds)].join('\n'));
    }
  };
  /** Prints the summary of the latest epoch record once (also when a plugin cancelled the fit in afterEpoch). */
  const summarise = (ctx: LoopContext): void => {
    stopBar();
    const record = ctx.history.epochs.at(-1);
    if (mode === 'none' || record === undefined || record.epoch <= printedEpoch) return;
    printedEpoch = record.epoch;
    const summary = formatEpochSummary({
      epoch: record.epoch,
      epochs: ctx.epochs,
      train: record.train,
      valid: record.valid,
      seconds: record.seconds,
      samplesPerSecond: samples / trainSeconds,
    });
    if (mode === 'display') {
      summaries.push(summary);
      options.display!.text(summaries.join('\n'));
    } else {
      stream.write(`${summary}\n`);
    }
  };

  return {
    name: 'progressBar',
    order: 100,
    beforeFit() {
      mode =
        options.display !== undefined ? 'display' : output === 'auto' ? (stream.isTTY ? 'terminal' : 'lines') : output;
      summaries = [];
      printedEpoch = -1;
    },
    beforeEpoch(ctx) {
      epochStart = ctx.now();
      lastDraw = epochStart;
      samples = 0;
      batches = 0;
      lastDecile = 0;
      if (mode !== 'terminal') return;
      const known = ctx.batchesPerEpoch !== undefined;
      bar = new cliProgress.SingleBar({
        stream: stream as NodeJS.WritableStream,
        format: `epoch ${ctx.epoch + 1}/${ctx.epochs} ${known ? '[{bar}] ' : ''}{value}/${
          known ? '{total}' : '?'
        } | {rate} | ETA {timeLeft} | {metrics}`,
        hideCursor: false,
        clearOnComplete: true,
        fps: 1000 / TERMINAL_INTERVAL_MS,
      });
      bar.start(ctx.batchesPerEpoch ?? 0, 0, { rate: formatRate(Number.NaN), timeLeft: '--:--', metrics: '' });
    },
    async afterBatch(ctx) {
      batches++;
      samples += ctx.batch?.x.shape[0] ?? 0;
      const now = ctx.now();
      trainSeconds = (now - epochStart) / 1000;
      await draw(ctx, now);
    },
    afterEpoch: summarise,
    afterFit: summarise,
  };
}
