/**
 * Pure formatting helpers of the progress output (exported for tests and for plugins that print their own lines).
 */

/**
 * A duration as `m:ss` (or `h:mm:ss` from one hour), `--:--` when unknown.
 *
 * @example
 * ```ts
 * import { formatDuration } from '@convkit/learner';
 * formatDuration(65); // '1:05'
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/**
 * A rate with three significant digits and a k/M suffix, e.g. `'1.23k samples/s'`; `'-- samples/s'` when unknown.
 *
 * @example
 * ```ts
 * import { formatRate } from '@convkit/learner';
 * formatRate(1234); // '1.23k samples/s'
 * ```
 */
export function formatRate(perSecond: number, unit = 'samples/s'): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return `-- ${unit}`;
  const [scaled, suffix] =
    perSecond >= 1e6 ? [perSecond / 1e6, 'M'] : perSecond >= 1e3 ? [perSecond / 1e3, 'k'] : [perSecond, ''];
  const digits = scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2;
  return `${scaled.toFixed(digits)}${suffix} ${unit}`;
}

/**
 * Estimated time left, from the batches done, the batches per epoch and the seconds spent so far (linear
 * extrapolation), formatted by {@link formatDuration}; `--:--` when it cannot be estimated.
 *
 * @example
 * ```ts
 * import { formatEta } from '@convkit/learner';
 * formatEta(25, 100, 10); // '0:30'
 * ```
 */
export function formatEta(done: number, total: number | undefined, elapsedSeconds: number): string {
  if (total === undefined || done <= 0 || !Number.isFinite(elapsedSeconds)) return '--:--';
  return formatDuration(((total - done) * elapsedSeconds) / done);
}

/** A metric value with four decimals (`nan` when not a number). */
export function formatValue(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? 'nan' : value.toFixed(4);
}

/** `name value` pairs joined by spaces, in the record's order. */
export function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([name, value]) => `${name} ${formatValue(value)}`)
    .join(' ');
}

/** What a progress line shows. */
export interface ProgressLineFields {
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** Batches done in this epoch. */
  batches: number;
  /** Batches per epoch, if known. */
  total: number | undefined;
  samplesPerSecond: number;
  elapsedSeconds: number;
  /** Running training metrics. */
  running: Record<string, number>;
}

/**
 * One in-epoch progress line.
 *
 * @example
 * ```ts
 * import { formatProgressLine } from '@convkit/learner';
 * formatProgressLine({ epoch: 0, epochs: 3, batches: 5, total: 10, samplesPerSecond: 200, elapsedSeconds: 2, running: { loss: 0.5 } });
 * // 'epoch 1/3  batch 5/10  200 samples/s  ETA 0:02  loss 0.5000'
 * ```
 */
export function formatProgressLine(fields: ProgressLineFields): string {
  const total = fields.total === undefined ? '?' : String(fields.total);
  const parts = [
    `epoch ${fields.epoch + 1}/${fields.epochs}`,
    `batch ${fields.batches}/${total}`,
    formatRate(fields.samplesPerSecond),
    `ETA ${formatEta(fields.batches, fields.total, fields.elapsedSeconds)}`,
  ];
  const metrics = formatMetrics(fields.running);
  if (metrics !== '') parts.push(metrics);
  return parts.join('  ');
}

/** What an epoch summary shows. */
export interface EpochSummaryFields {
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  train: Record<string, number>;
  valid: Record<string, number>;
  seconds: number;
  samplesPerSecond: number;
}

/**
 * The one-line summary printed at each epoch end.
 *
 * @example
 * ```ts
 * import { formatEpochSummary } from '@convkit/learner';
 * formatEpochSummary({ epoch: 1, epochs: 5, train: { loss: 0.25 }, valid: { loss: 0.5 }, seconds: 3.2, samplesPerSecond: 1500 });
 * // 'epoch 2/5  train loss 0.2500  valid loss 0.5000  3.2s  1.50k samples/s'
 * ```
 */
export function formatEpochSummary(fields: EpochSummaryFields): string {
  const parts = [`epoch ${fields.epoch + 1}/${fields.epochs}`, `train ${formatMetrics(fields.train)}`];
  if (Object.keys(fields.valid).length > 0) parts.push(`valid ${formatMetrics(fields.valid)}`);
  parts.push(`${fields.seconds.toFixed(1)}s`, formatRate(fields.samplesPerSecond));
  return parts.join('  ');
}
