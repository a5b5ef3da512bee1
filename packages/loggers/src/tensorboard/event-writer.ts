import { access, mkdir, open, type FileHandle } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { TensorStats } from '@convkit/learner';
import { encodeEvent, type SummaryValue, type TensorBoardEvent, type TensorBoardHistogram, type TensorBoardImage } from './event-proto.js';
import { frameRecord } from './tfrecord.js';

/** Options of {@link openEventWriter}. */
export interface EventWriterOptions {
  /** The clock for the events' wall time and the file name, in milliseconds since 1970. Defaults to `Date.now`. */
  readonly now?: () => number;
  /** The host name in the file name. Defaults to `os.hostname()`. */
  readonly hostname?: string;
}

/**
 * Appends TensorBoard events to one event file (`events.out.tfevents.<seconds>.<host>`). Events are kept in memory
 * until {@link EventWriter.flush}, then appended in one write; TensorBoard reads the file while it grows.
 */
export interface EventWriter {
  /** The event file's path. */
  readonly path: string;
  /** Adds scalars, histograms or images at a global step. */
  add(step: number, values: readonly SummaryValue[]): void;
  /** Adds one scalar at a global step (`add(step, [{ tag, scalar }])`). */
  addScalar(tag: string, value: number, step: number): void;
  /** Marks a restart at `step` (a resumed run): TensorBoard drops the events of the crashed run from `step` on. */
  addSessionStart(step: number): void;
  /** Appends the pending events to the file. */
  flush(): Promise<void>;
  /** Flushes and closes the file; the writer takes no more events. */
  close(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Creates `dir` if needed and opens a new TensorBoard event file in it, starting with the `brain.Event:2` version
 * record. Every record is framed as a TFRecord (length and data guarded by masked CRC32C).
 *
 * @example
 * ```ts
 * import { openEventWriter } from '@convkit/loggers';
 * const writer = await openEventWriter('runs/demo/train');
 * for (let step = 0; step < 10; step++) writer.addScalar('loss', 1 / (step + 1), step);
 * await writer.close(); // then: tensorboard --logdir runs
 * ```
 */
export async function openEventWriter(dir: string, options: EventWriterOptions = {}): Promise<EventWriter> {
  if (typeof dir !== 'string' || dir === '') {
    throw new Error(`dir must be a non-empty folder path (received ${JSON.stringify(dir)})`);
  }
  const now = options.now ?? Date.now;
  const host = options.hostname ?? osHostname();
  await mkdir(dir, { recursive: true });
  const base = `events.out.tfevents.${Math.floor(now() / 1000)}.${host}`;
  let path = join(dir, base);
  for (let n = 1; await exists(path); n++) path = join(dir, `${base}.${process.pid}.${n}`);
  const handle: FileHandle = await open(path, 'wx');
  let pending: Uint8Array[] = [];
  let closed = false;
  const push = (event: Omit<TensorBoardEvent, 'wallTime'>): void => {
    if (closed) throw new Error(`the event writer of ${path} is closed`);
    pending.push(frameRecord(encodeEvent({ ...event, wallTime: now() / 1000 })));
  };
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const records = pending;
    pending = [];
    await handle.write(Buffer.concat(records));
  };
  push({ step: 0, fileVersion: 'brain.Event:2' });
  await flush();
  return {
    path,
    add(step, values) {
      if (values.length > 0) push({ step, values });
    },
    addScalar(tag, value, step) {
      push({ step, values: [{ tag, scalar: value }] });
    },
    addSessionStart(step) {
      push({ step, sessionStart: true });
    },
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      await handle.close();
    },
  };
}

/**
 * Converts the learner's `TensorStats` (from `valueStats`, `tensorStats` or an `activationStats` record) to a
 * TensorBoard histogram; `undefined` when no value was finite.
 */
export function histogramFromStats(stats: TensorStats): TensorBoardHistogram | undefined {
  const num = stats.count - stats.nonFinite;
  if (num === 0) return undefined;
  return {
    min: stats.min,
    max: stats.max,
    num,
    sum: stats.mean * num,
    sumSquares: num * (stats.std * stats.std + stats.mean * stats.mean),
    bucketLimit: stats.histogram.edges.slice(1),
    bucket: stats.histogram.counts,
  };
}

const COLORSPACE_OF_PNG_COLOR_TYPE: Record<number, number> = { 0: 1, 4: 2, 2: 3, 3: 3, 6: 4 };

/** A PNG's size and TensorBoard colour space, read from its header; throws when `png` is not a PNG. */
export function pngImage(png: Uint8Array): TensorBoardImage {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 29 || signature.some((byte, i) => png[i] !== byte)) {
    throw new Error(`png must be PNG bytes (received ${png.length} bytes without the PNG signature)`);
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    colorspace: COLORSPACE_OF_PNG_COLOR_TYPE[png[25]!] ?? 3,
    encoded: png,
  };
}
