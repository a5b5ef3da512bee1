// The subset of TensorBoard's protocol buffers that a training run writes: Event, Summary (scalars, images,
// histograms) and SessionLog, with the field numbers of tensorboard/compat/proto/{event,summary,histogram}.proto.
// Encoded by protobufjs from this descriptor (no generated code).
import protobuf from 'protobufjs';

const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ['fileVersion', 'summary', 'sessionLog'] } },
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
            sessionLog: { type: 'SessionLog', id: 7 },
          },
        },
        SessionLog: {
          fields: {
            status: { type: 'int32', id: 1 },
            checkpointPath: { type: 'string', id: 2 },
            msg: { type: 'string', id: 3 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Image: {
              fields: {
                height: { type: 'int32', id: 1 },
                width: { type: 'int32', id: 2 },
                colorspace: { type: 'int32', id: 3 },
                encodedImageString: { type: 'bytes', id: 4 },
              },
            },
            Value: {
              // A oneof, as in summary.proto: its members are written even when 0 (proto3 drops plain zero fields).
              oneofs: { value: { oneof: ['simpleValue', 'image', 'histo'] } },
              fields: {
                tag: { type: 'string', id: 1 },
                simpleValue: { type: 'float', id: 2 },
                image: { type: 'Image', id: 4 },
                histo: { type: 'HistogramProto', id: 5 },
              },
            },
          },
        },
        HistogramProto: {
          fields: {
            min: { type: 'double', id: 1 },
            max: { type: 'double', id: 2 },
            num: { type: 'double', id: 3 },
            sum: { type: 'double', id: 4 },
            sumSquares: { type: 'double', id: 5 },
            bucketLimit: { rule: 'repeated', type: 'double', id: 6, options: { packed: true } },
            bucket: { rule: 'repeated', type: 'double', id: 7, options: { packed: true } },
          },
        },
      },
    },
  },
});
const EventType = root.lookupType('tensorboard.Event');

/**
 * A histogram as TensorBoard stores it (`HistogramProto`): bucket `i` holds `bucket[i]` values in
 * (`bucketLimit[i - 1]`, `bucketLimit[i]`]; TensorBoard draws the first bucket from `min` and the last up to `max`.
 */
export interface TensorBoardHistogram {
  /** Smallest value. */
  readonly min: number;
  /** Largest value. */
  readonly max: number;
  /** Number of values. */
  readonly num: number;
  /** Sum of the values. */
  readonly sum: number;
  /** Sum of the squared values. */
  readonly sumSquares: number;
  /** Right edge of each bucket, increasing. */
  readonly bucketLimit: readonly number[];
  /** Count of each bucket. */
  readonly bucket: readonly number[];
}

/** An encoded image (PNG) with its size; `colorspace` is 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
export interface TensorBoardImage {
  /** Height in pixels. */
  readonly height: number;
  /** Width in pixels. */
  readonly width: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  readonly colorspace: number;
  /** The encoded image (PNG bytes). */
  readonly encoded: Uint8Array;
}

/** One tagged value of a summary: a scalar, a histogram or an image. */
export type SummaryValue =
  | { readonly tag: string; readonly scalar: number }
  | { readonly tag: string; readonly histogram: TensorBoardHistogram }
  | { readonly tag: string; readonly image: TensorBoardImage };

/** One event of an event file: the file's version line, a summary of values, or a session start. */
export interface TensorBoardEvent {
  /** Seconds since 1970 (fractional). */
  readonly wallTime: number;
  /** The global step the values belong to. */
  readonly step: number;
  /** The file's version line (`brain.Event:2`), only in a file's first event. */
  readonly fileVersion?: string;
  /** The summary values (scalars, histograms, images) at `step`. */
  readonly values?: readonly SummaryValue[];
  /** A session start at `step`: TensorBoard discards the events of a crashed run at or after this step. */
  readonly sessionStart?: boolean;
}

function valueMessage(value: SummaryValue): Record<string, unknown> {
  if ('scalar' in value) return { tag: value.tag, simpleValue: value.scalar };
  if ('histogram' in value) return { tag: value.tag, histo: { ...value.histogram } };
  const { height, width, colorspace, encoded } = value.image;
  return { tag: value.tag, image: { height, width, colorspace, encodedImageString: encoded } };
}

/** Encodes an {@link TensorBoardEvent} as the bytes of a `tensorboard.Event` protocol buffer. */
export function encodeEvent(event: TensorBoardEvent): Uint8Array {
  const message: Record<string, unknown> = { wallTime: event.wallTime, step: event.step };
  if (event.fileVersion !== undefined) message.fileVersion = event.fileVersion;
  else if (event.sessionStart === true) message.sessionLog = { status: 1 };
  else message.summary = { value: (event.values ?? []).map(valueMessage) };
  return EventType.encode(EventType.fromObject(message)).finish();
}
