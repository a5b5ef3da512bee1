export { LOOP_EVENTS, CANCEL_EVENTS, SYNC_EVENTS, PLUGIN_EVENTS, isPluginEvent } from './events.js';
export type { LoopEvent, CancelEvent, PluginEvent, SyncEvent } from './events.js';
export { plugin, PluginConflictError } from './plugin.js';
export type { Plugin, PluginHooks, PluginOptions, WriteTarget } from './plugin.js';
export { CancelSignal, CancelBatch, CancelStep, CancelEpoch, CancelValidate, CancelFit } from './signals.js';
export type { CancelLevel } from './signals.js';
export { PluginHookError } from './dispatcher.js';
export { TensorLeakError } from './leak-guard.js';
export type { LoopContext, LastMetrics } from './context.js';
export type { Batch, BatchSource } from './batch-source.js';
export type { History, EpochRecord, StepRecord } from './history.js';
export type { FunctionModel, LearnerModel } from './model.js';
export { fromTfOptimizer } from './optimizer.js';
export type { OptimizerLike, VariableGradient } from './optimizer.js';
export { resolveLoss, LOSS_NAMES } from './losses.js';
export type { LossName, LossFunction } from './losses.js';
export { accuracy, meanMetric } from './metrics.js';
export type { Metric } from './metrics.js';
export { ConfusionMatrixMetric, balancedAccuracy, macroF1, weightedF1, classMetric } from './classification-metrics.js';
export type {
  ConfusionStatistic,
  ConfusionMetricOptions,
  ConfusionMatrixMetricOptions,
} from './classification-metrics.js';
export { confusionMatrix, classificationReport, reportFromConfusion } from './classification-report.js';
export type { ClassificationReport, ClassScores, AveragedScores } from './classification-report.js';
export { Learner } from './learner.js';
export type { LearnerOptions, FitOptions } from './learner.js';
export { progressBar } from './progress.js';
export type { ProgressBarOptions, TextDisplay, ProgressStream } from './progress.js';
export {
  formatDuration,
  formatRate,
  formatEta,
  formatValue,
  formatMetrics,
  formatProgressLine,
  formatEpochSummary,
} from './progress-format.js';
export type { ProgressLineFields, EpochSummaryFields } from './progress-format.js';
