import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@convkit/io';
import type { EpochRecord, LoopContext, Plugin } from '@convkit/learner';
import { csvLine, parseCsv } from './csv-format.js';
import { checkPath, epochsAfter, fitStartStep, isResumed } from './run-records.js';

/** Options of {@link csvLogger}. */
export interface CsvLoggerOptions {
  /** The field separator. Defaults to ','. */
  readonly separator?: string;
  /**
   * Keep the rows already in the file and add this fit's after them (Keras' `append=True`); `false` starts the file
   * anew at each fit. A resumed fit always keeps them. Defaults to false.
   */
  readonly append?: boolean;
}

/** The plugin returned by {@link csvLogger}. */
export interface CsvLoggerPlugin extends Plugin {
  /** The file written. */
  readonly path: string;
}

/** The value written for a column an epoch has no value for (as Keras' CSVLogger writes). */
const MISSING = 'NA';

/** One epoch's columns: epoch, step, seconds, `train.<metric>`, `valid.<metric>`, then the hyperparameters. */
function epochRow(record: EpochRecord): Map<string, string> {
  const row = new Map<string, string>([
    ['epoch', String(record.epoch)],
    ['step', String(record.step)],
    ['seconds', String(record.seconds)],
  ]);
  for (const [name, value] of Object.entries(record.train)) row.set(`train.${name}`, String(value));
  for (const [name, value] of Object.entries(record.valid)) row.set(`valid.${name}`, String(value));
  for (const [name, value] of Object.entries(record.hypers)) row.set(name, String(value));
  return row;
}

/**
 * A plugin that writes one CSV row per epoch: `epoch`, `step` (optimizer steps so far), `seconds`, every training
 * and validation metric (`train.loss`, `valid.accuracy`, …) and every parameter group's hyperparameters
 * (`learningRate`, `momentum`, …; with parameter groups also `learningRate/1`, … as the history records them), as
 * Keras' `CSVLogger` does.
 *
 * Why: a CSV of the epochs opens in a spreadsheet or `pandas.read_csv` and survives the process, so runs can be
 * compared after the fact without convkit.
 *
 * Semantics, as Keras': the header is written with the first row; a metric missing in an epoch is written as
 * `NA`; `append: false` starts the file anew at each fit, `append: true` keeps the rows already there. Unlike
 * Keras, a metric that first appears later (validation every few epochs) adds a column rather than being dropped.
 * A resumed fit (`fit(epochs, { resume })`) keeps the file, drops the rows written after the checkpoint (a crashed
 * run's epochs that are about to be run again) and adds the checkpoint's epochs the file lacks. The file is
 * rewritten atomically (through `@convkit/io`) at each epoch end, so a crash never leaves a torn row.
 *
 * @param path - the CSV file; parent folders are created.
 * @param options - `separator` (defaults to ','), `append` (defaults to false).
 *
 * @example
 * ```ts
 * import { csvLogger } from '@convkit/loggers';
 * const plugins = [csvLogger('runs/demo/epochs.csv')];
 * // epoch,step,seconds,train.loss,train.accuracy,valid.loss,valid.accuracy,learningRate
 * ```
 */
export function csvLogger(path: string, options: CsvLoggerOptions = {}): CsvLoggerPlugin {
  checkPath('path', path);
  const separator = options.separator ?? ',';
  if (typeof separator !== 'string' || separator === '' || /["\r\n]/.test(separator)) {
    throw new Error(`separator must be a non-empty string without quotes or line breaks (received ${JSON.stringify(separator)})`);
  }
  const append = options.append ?? false;
  if (typeof append !== 'boolean') throw new Error(`append must be a boolean (received ${JSON.stringify(append)})`);
  let columns: string[] = [];
  let rows: Map<string, string>[] = [];
  let lastEpochStep = -1;

  const addRows = (ctx: LoopContext): boolean => {
    const epochs = epochsAfter(ctx.history, lastEpochStep);
    epochs.forEach((record) => {
      const row = epochRow(record);
      for (const column of row.keys()) if (!columns.includes(column)) columns.push(column);
      rows.push(row);
    });
    if (epochs.length > 0) lastEpochStep = epochs.at(-1)!.step;
    return epochs.length > 0;
  };
  const save = async (): Promise<void> => {
    const lines = rows.length === 0 ? [] : [columns, ...rows.map((row) => columns.map((c) => row.get(c) ?? MISSING))];
    await writeFileAtomic(path, lines.map((fields) => `${csvLine(fields, separator)}\n`).join(''));
  };

  return {
    name: 'csvLogger',
    order: -50,
    path,
    async beforeFit(ctx) {
      columns = [];
      rows = [];
      lastEpochStep = fitStartStep(ctx) - 1;
      const resumed = isResumed(ctx);
      if (resumed || append) {
        const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return '';
          throw error;
        });
        const [header = [], ...body] = parseCsv(text, separator);
        columns = header;
        const stepColumn = header.indexOf('step');
        for (const fields of body) {
          const step = stepColumn < 0 ? NaN : Number(fields[stepColumn]);
          if (resumed && step > ctx.step) continue; // an epoch of the crashed run after the checkpoint
          if (resumed && step >= fitStartStep(ctx)) lastEpochStep = Math.max(lastEpochStep, step); // this run's, written
          rows.push(new Map(header.map((column, i) => [column, fields[i] ?? MISSING])));
        }
      }
      addRows(ctx); // a resumed fit's epochs that the file lacks
      await save();
    },
    async afterEpoch(ctx) {
      if (addRows(ctx)) await save();
    },
    async afterFit(ctx) {
      if (addRows(ctx)) await save();
    },
  };
}
