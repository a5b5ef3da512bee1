export { LOOP_EVENTS, CANCEL_EVENTS, SYNC_EVENTS, PLUGIN_EVENTS, isPluginEvent } from './events.js';
export type { LoopEvent, CancelEvent, PluginEvent, SyncEvent } from './events.js';
export { plugin, PluginConflictError, UndeclaredWriteError } from './plugin.js';
export type { Plugin, PluginHooks, PluginOptions, WriteTarget } from './plugin.js';
export { CancelSignal, CancelBatch, CancelStep, CancelEpoch, CancelValidate, CancelFit } from './signals.js';
export type { CancelLevel } from './signals.js';
export { PluginHookError } from './dispatcher.js';
export { TensorLeakError } from './leak-guard.js';
export type { LoopContext, LoopLearner, EvaluateOptions } from './loop-types.js';
export type { LastMetrics } from './history.js';
export { Interrupted, FitInterrupted, interruptible } from './interrupt.js';
export type { Interruption } from './interrupt.js';
export { TrainingStepError } from './step-error.js';
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
// checkpoints
export { checkpoint } from './checkpoint.js';
export type { CheckpointOptions, CheckpointPluginState } from './checkpoint.js';
export { loadCheckpoint, loadCheckpointModel, loadCheckpointWeights } from './checkpoint-load.js';
export type { LoadCheckpointOptions } from './checkpoint-load.js';
export type {
  Checkpoint,
  CheckpointState,
  CheckpointPosition,
  CheckpointManifest,
  CheckpointEntry,
} from './checkpoint-state.js';
export type { CheckpointModelJson } from './checkpoint-weights.js';
export { nodeFileSystem } from './checkpoint-io.js';
export type { CheckpointFileSystem } from './checkpoint-io.js';
export type { SavedCheckpoint } from './checkpoint-write.js';
export type { SaveCheckpointOptions } from './learner.js';
// diagnostics
export { overfitCheck } from './diagnostics/overfit-check.js';
export type { OverfitCheckOptions, OverfitReport } from './diagnostics/overfit-check.js';
export { repeatBatch } from './diagnostics/repeat-batch.js';
export type { RepeatBatchOptions } from './diagnostics/repeat-batch.js';
export { nanGuard, NonFiniteError } from './diagnostics/nan-guard.js';
export type { NanGuardOptions, NanGuardPlugin, NonFiniteKind, NonFiniteReport } from './diagnostics/nan-guard.js';
export { gradientClipping, clipGradientsByNorm, clipGradientsByValue } from './diagnostics/gradient-clipping.js';
export type { GradientClippingOptions, ClippedGradients } from './diagnostics/gradient-clipping.js';
export { gradientAccumulation } from './diagnostics/gradient-accumulation.js';
export type { GradientAccumulationPlugin } from './diagnostics/gradient-accumulation.js';
export { activationStats } from './diagnostics/activation-stats.js';
export type { ActivationRecord, ActivationStatsOptions, ActivationStatsPlugin } from './diagnostics/activation-stats.js';
export { layerOutputs } from './diagnostics/layer-outputs.js';
export type { LayerOutput } from './diagnostics/layer-outputs.js';
export { tensorStats, valueStats } from './diagnostics/tensor-stats.js';
export type { TensorStats, TensorStatsOptions, Histogram } from './diagnostics/tensor-stats.js';
export { learningCurveVerdict } from './diagnostics/learning-curve-verdict.js';
export type {
  CurveVerdict,
  CurveDiagnosis,
  CurveNumbers,
  LearningCurveVerdictOptions,
  VerdictHistory,
} from './diagnostics/learning-curve-verdict.js';
export { findBatchSize, estimateTrainingBytes } from './diagnostics/find-batch-size.js';
export type { FindBatchSizeOptions, BatchSizeReport, BatchSizeMethod, BatchSizeTrial } from './diagnostics/find-batch-size.js';
