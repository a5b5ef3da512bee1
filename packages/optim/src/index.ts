// @convkit/optim: optimizers that match PyTorch step for step, with parameter groups, live hyperparameters and
// state save/restore.
export { Optimizer } from './optimizer.js';
export type { FusedUpdate, GradientPair, OptimizerAlgorithm, SlotTensors, UpdateResult, HyperLimit } from './algorithm.js';
export type { ParamGroup, GroupSelector, OptimizerOptions } from './param-groups.js';
export type { OptimizerState, SavedVariableState } from './optimizer-state.js';
export { sgd, sgdAlgorithm } from './sgd.js';
export type { SgdOptions } from './sgd.js';
export { adam, adamW, adamAlgorithm } from './adam.js';
export type { AdamOptions } from './adam.js';
export { adadelta, adadeltaAlgorithm } from './adadelta.js';
export type { AdadeltaOptions } from './adadelta.js';
export { adagrad, adagradAlgorithm } from './adagrad.js';
export type { AdagradOptions } from './adagrad.js';
export { rmsprop, rmspropAlgorithm } from './rmsprop.js';
export type { RmspropOptions } from './rmsprop.js';
