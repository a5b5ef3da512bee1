// Verdicts decided by code, for the experiment notebooks.
//
// A notebook states the write-up's figure and a tolerance up front, measures over seeds, and ends with
// `printVerdict(...)`, which prints three lines that scripts/notebook-table.mjs reads from the committed outputs:
//
//   reported: <the write-up's figure>
//   measured: <what this run measured, mean ± spread over seeds>
//   verdict: reproduced | partly: <what fell short> | not reproduced: <why>
//
// Pure functions, no convkit imports: tslab (TypeScript 5.0.4, Node10 resolution) compiles this file as a relative
// import (`import { … } from "./lib/verdict"`), and vitest tests it (notebooks/lib/verdict.test.ts).

/** Mean and spread of one measured quantity over seeds. */
export interface Summary {
  /** The values, one per seed, in the order given. */
  readonly values: readonly number[];
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator); 0 for a single value. */
  readonly spread: number;
  readonly min: number;
  readonly max: number;
}

function finiteList(name: string, values: readonly number[]): readonly number[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new Error(`${name} must be a non-empty array of numbers (received ${JSON.stringify(values)})`);
  }
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${name}[${i}] must be a finite number (received ${String(v)})`);
  });
  return values;
}

/** Mean ± sample standard deviation of `values` (one per seed). Throws on an empty list or a non-finite value. */
export function summarize(values: readonly number[]): Summary {
  finiteList("values", values);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const spread = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { values: [...values], n: n, mean: mean, spread: spread, min: Math.min(...values), max: Math.max(...values) };
}

/** How {@link fmt} writes a summary. */
export interface FormatOptions {
  /** Multiply by this before printing (100 for a fraction shown as %). Defaults to 1. */
  scale?: number;
  /** Digits after the point. Defaults to 1. */
  digits?: number;
  /** Appended to the numbers, e.g. "%". Defaults to "" (or "%" when scale is 100). */
  unit?: string;
  /** Use toPrecision(digits) for the mean and toPrecision(2) for the spread, instead of toFixed(digits) (for costs, rates). Defaults to false. */
  precision?: boolean;
}

/** `81.8 ± 1.2% (n=3)`; a single value prints without the spread. */
export function fmt(summary: Summary | number, options: FormatOptions = {}): string {
  const scale = options.scale ?? 1;
  const digits = options.digits ?? 1;
  const unit = options.unit ?? (scale === 100 ? "%" : "");
  const show = (v: number) => (options.precision ? (v * scale).toPrecision(digits) : (v * scale).toFixed(digits));
  if (typeof summary === "number") return `${show(summary)}${unit}`;
  if (summary.n === 1) return `${show(summary.mean)}${unit} (n=1)`;
  const spread = options.precision ? (summary.spread * scale).toPrecision(2) : show(summary.spread);
  return `${show(summary.mean)} ± ${spread}${unit} (n=${summary.n})`;
}

/** A fraction as a percentage: `pct(0.8123)` is `81.2%`. */
export function pct(summary: Summary | number, digits = 1): string {
  return fmt(summary, { scale: 100, digits: digits });
}

/** The difference of two measured quantities, and whether it is larger than their spread. */
export interface Difference {
  /** mean(a) − mean(b). */
  readonly difference: number;
  /** spread(a) + spread(b): the two mean ± spread bands touch when |difference| equals it. */
  readonly spread: number;
  /** |difference| > spread, i.e. the mean ± spread bands do not overlap. Always false with fewer than 2 seeds a side. */
  readonly real: boolean;
}

/**
 * Compares two quantities measured over seeds. A difference is "real" only when it exceeds the spread, here the
 * sum of the two standard deviations (their mean ± spread bands do not overlap), and only with ≥ 2 seeds on each
 * side (one run has no spread, so it can show nothing).
 */
export function difference(a: Summary, b: Summary): Difference {
  const diff = a.mean - b.mean;
  const spread = a.spread + b.spread;
  return { difference: diff, spread: spread, real: a.n >= 2 && b.n >= 2 && Math.abs(diff) > spread };
}

/** True when `a` is larger than `b` by more than the spread (see {@link difference}). */
export function clearlyAbove(a: Summary, b: Summary): boolean {
  const d = difference(a, b);
  return d.real && d.difference > 0;
}

/** True when `summary`'s mean is within `tolerance` of `target` (|mean − target| ≤ tolerance). */
export function within(summary: Summary | number, target: number, tolerance: number): boolean {
  if (!(tolerance >= 0)) throw new Error(`tolerance must be a non-negative number (received ${String(tolerance)})`);
  const mean = typeof summary === "number" ? summary : summary.mean;
  return Math.abs(mean - target) <= tolerance;
}

/** One claim of the write-up checked against the measurement. */
export interface Check {
  /** What the write-up claims, short, e.g. "N(0,1) init: accuracy 81.88%". */
  readonly claim: string;
  /** The measured figure as text. */
  readonly measured: string;
  /** Whether the measurement supports the claim under the stated tolerance. */
  readonly ok: boolean;
  /** Said in the verdict when the check fails (defaults to `claim: measured`). */
  readonly why?: string;
}

/**
 * The verdict line from the checks: `reproduced` when all pass, `partly: …` naming the failed ones when some pass,
 * `not reproduced: …` when none does. Throws on an empty list (a verdict needs at least one check).
 */
export function verdictLine(checks: readonly Check[]): string {
  if (!Array.isArray(checks) || checks.length === 0) throw new Error("checks must be a non-empty array of Check");
  const failed = checks.filter((c) => !c.ok);
  const reasons = failed.map((c) => c.why ?? `${c.claim}: measured ${c.measured}`).join("; ");
  if (failed.length === 0) return "reproduced";
  if (failed.length < checks.length) return `partly: ${reasons}`;
  return `not reproduced: ${reasons}`;
}

/** What {@link printVerdict} prints besides the checks. */
export interface VerdictSummary {
  /** The write-up's figure, short (goes into the README's "reported" column). */
  readonly reported: string;
  /** The measured figure, short (the README's "measured" column). */
  readonly measured: string;
  /** The size that ran, e.g. "full" or "reduced: 3 seeds × 2 epochs". */
  readonly size: string;
}

/**
 * Prints each check (`[ok]` / `[no]`), then the lines `size:`, `reported:`, `measured:` and `verdict:` that
 * scripts/notebook-table.mjs reads; returns the verdict line. Call it in the notebook's last code cell.
 */
export function printVerdict(checks: readonly Check[], summary: VerdictSummary, log: (line: string) => void = console.log): string {
  const line = verdictLine(checks);
  for (const c of checks) log(`[${c.ok ? "ok" : "no"}] ${c.claim} — measured ${c.measured}`);
  log(`size: ${summary.size}`);
  log(`reported: ${summary.reported}`);
  log(`measured: ${summary.measured}`);
  log(`verdict: ${line}`);
  return line;
}
