// Test helpers: a real fit over a tiny linear model, the files it leaves, and the independent TensorBoard reader.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { Learner, type Batch, type BatchSource, type History, type OptimizerLike, type Plugin } from '@convkit/learner';

/** A fresh temporary folder. */
export const temporaryFolder = (): Promise<string> => mkdtemp(join(tmpdir(), 'convkit-loggers-'));

/** A re-iterable source of `batches` batches of 4 samples of y = 2x − 1 (fresh tensors each epoch). */
function lineSource(batches: number, offset: number): BatchSource {
  return {
    length: batches,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < batches; b++) {
        const xs = [0, 1, 2, 3].map((i) => ((b * 4 + i + offset) % 7) / 7 - 0.5);
        yield { x: tf.tensor2d(xs, [4, 1]), y: tf.tensor2d(xs.map((x) => 2 * x - 1), [4, 1]) };
      }
    },
  };
}

let runs = 0;

/**
 * A linear model y = w·x + b trained by `optimizer(variables)` on 4 batches per epoch, with validation unless
 * `validation: false`; its variables are named `w-<names>`, `b-<names>` (defaults to a fresh number).
 */
export function linearRun(
  plugins: Plugin[],
  optimizer: (variables: tf.Variable[]) => OptimizerLike | tf.Optimizer = () => tf.train.sgd(0.1),
  options: { validation?: boolean; names?: string } = {},
): { learner: Learner; variables: tf.Variable[]; dispose(): void } {
  const suffix = options.names ?? String(++runs); // a resumed run needs the checkpointed run's variable names
  const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.5]]), true, `w-${suffix}`));
  const b = tf.tidy(() => tf.variable(tf.tensor1d([0]), true, `b-${suffix}`));
  const made = optimizer([w, b]);
  const learner = new Learner({
    model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
    loss: 'meanSquaredError',
    optimizer: made,
    train: lineSource(4, 0),
    ...(options.validation === false ? {} : { valid: lineSource(1, 3) }),
    plugins,
    seed: 1,
  });
  return { learner, variables: [w, b], dispose: () => (w.dispose(), b.dispose(), made.dispose()) };
}

/**
 * A run that crashed after a checkpoint, then resumed: a first fit of `epochs` with `makeLogger()` saves a checkpoint
 * (after epoch `afterEpoch`, 0-based, or after the batch whose fit step is `afterStep`) and runs on to its end, as a
 * run that crashed later would have left its logs; `between()` looks at them; then a new learner with a new
 * `makeLogger()` resumes from the checkpoint. Resolves with the resumed fit's history and its logger.
 */
export async function crashAndResume<P extends Plugin>(
  folder: string,
  makeLogger: () => P,
  checkpoint: { afterEpoch: number } | { afterStep: number },
  epochs: number,
  between: () => Promise<void> = async () => {},
): Promise<{ history: History; logger: P }> {
  const directory = join(folder, 'checkpoint');
  const saver: Plugin =
    'afterEpoch' in checkpoint
      ? { name: 'saver', order: 70, afterEpoch: async (ctx) => void (ctx.epoch === checkpoint.afterEpoch && (await ctx.learner.saveCheckpoint(directory))) }
      : { name: 'saver', order: 70, afterBatch: async (ctx) => void (ctx.fitStep === checkpoint.afterStep && (await ctx.learner.saveCheckpoint(directory))) };
  const first = linearRun([makeLogger(), saver], undefined, { names: 'resumed' });
  await first.learner.fit(epochs);
  first.dispose();
  await between();
  const logger = makeLogger();
  const second = linearRun([logger], undefined, { names: 'resumed' });
  const history = await second.learner.fit(epochs, { resume: directory });
  second.dispose();
  return { history, logger };
}

const READER = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'read_tfevents.py');

/** A value of an event as the independent reader prints it. */
export interface ReadValue {
  tag: string;
  kind: 'simple_value' | 'histo' | 'image';
  value?: number;
  min?: number;
  max?: number;
  num?: number;
  sum?: number;
  sum_squares?: number;
  bucket_limit?: number[];
  bucket?: number[];
  height?: number;
  width?: number;
  colorspace?: number;
  bytes?: number;
}

/** An event as the independent reader prints it. */
export interface ReadEvent {
  wall_time: number;
  step: number;
  what: 'file_version' | 'summary' | 'session_log';
  file_version?: string;
  status?: string;
  values?: ReadValue[];
}

/** Reads event files with test/read_tfevents.py (Python, protobuf, crc32c); rejects with its message on a bad file. */
export async function readEventFiles(paths: readonly string[]): Promise<Record<string, ReadEvent[]>> {
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [READER, ...paths], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Record<string, ReadEvent[]>;
}

/** Every value with `tag` in `events`, with its step. */
export function valuesOf(events: readonly ReadEvent[], tag: string): (ReadValue & { step: number })[] {
  return events.flatMap((event) => (event.values ?? []).filter((v) => v.tag === tag).map((v) => ({ ...v, step: event.step })));
}
