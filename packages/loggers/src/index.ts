// @convkit/loggers: run loggers for the Learner — a CSV row per epoch, JSON lines per step and epoch, TensorBoard
// event files, and live learning curves in notebooks.
export { csvLogger } from './csv-logger.js';
export type { CsvLoggerOptions, CsvLoggerPlugin } from './csv-logger.js';
export { jsonlLogger } from './jsonl-logger.js';
export type { JsonlEpochLine, JsonlLoggerOptions, JsonlLoggerPlugin, JsonlStepLine } from './jsonl-logger.js';
export { tensorBoardLogger } from './tensorboard/tensorboard-logger.js';
export type { TensorBoardLoggerOptions, TensorBoardLoggerPlugin } from './tensorboard/tensorboard-logger.js';
export { histogramFromStats, openEventWriter, pngImage } from './tensorboard/event-writer.js';
export type { EventWriter, EventWriterOptions } from './tensorboard/event-writer.js';
export type { SummaryValue, TensorBoardEvent, TensorBoardHistogram, TensorBoardImage } from './tensorboard/event-proto.js';
export { liveLearningCurves } from './live-curves.js';
export type { LiveLearningCurvesOptions } from './live-curves.js';
