// @convkit/schedule: schedules as pure functions, one plugin that applies them to any hyperparameter or plugin
// parameter, torch-matched LR schedulers, reduce-on-plateau, early stopping, the LR finder and snapshot ensembles.
export { linear, cosine, exponential, polynomial, constant, combineSchedules } from './schedules.js';
export type { Schedule } from './schedules.js';
export { stepDecay, multiStep, exponentialDecay, cosineWarmRestarts, cyclic, CYCLIC_MODES } from './step-schedules.js';
export type {
  IndexSchedule,
  StepDecayOptions,
  MultiStepOptions,
  ExponentialDecayOptions,
  CosineWarmRestartsOptions,
  CyclicMode,
  CyclicOptions,
} from './step-schedules.js';
export { paramScheduler } from './param-scheduler.js';
export type {
  ParamSchedulerOptions,
  ParamSchedulerPlugin,
  ScheduledValues,
  ScheduleInput,
  ScheduleUnit,
  GroupSchedules,
} from './param-scheduler.js';
export type { SchedulablePlugin } from './schedulable.js';
export type { GroupedOptimizer } from './hyper-writer.js';
export { stepLR, multiStepLR, exponentialLR, cosineAnnealing, warmup, lambdaLR } from './lr-schedulers.js';
export type {
  LearningRateSchedulerOptions,
  StepLROptions,
  MultiStepLROptions,
  ExponentialLROptions,
  CosineAnnealingOptions,
  WarmupOptions,
  LambdaLROptions,
} from './lr-schedulers.js';
export { oneCycle, oneCycleSchedules } from './one-cycle.js';
export type { OneCycleOptions, OneCycleScheduleOptions, MomentumHyper } from './one-cycle.js';
export { cyclicLR } from './cyclic-lr.js';
export type { CyclicLROptions } from './cyclic-lr.js';
export { createMonitor } from './monitor.js';
export type { Monitor, MonitorOptions } from './monitor.js';
export { reduceLROnPlateau } from './reduce-lr-on-plateau.js';
export type { ReduceLROnPlateauOptions, ReduceLROnPlateauPlugin } from './reduce-lr-on-plateau.js';
export { earlyStopping } from './early-stopping.js';
export type { EarlyStoppingOptions, EarlyStoppingPlugin, EarlyStoppingState } from './early-stopping.js';
export { lrFind, finderRates, suggestLearningRates, valleyIndex } from './lr-finder.js';
export type { LRFindOptions, LRFindResult, LRSuggestion } from './lr-finder.js';
export { snapshotEnsemble } from './snapshot-ensemble.js';
export type { SnapshotEnsembleOptions, SnapshotEnsemblePlugin, SnapshotEnsembleState } from './snapshot-ensemble.js';
