// @convkit/pseudolabel: label an unlabeled set with a model or an ensemble, keep confident predictions, mix them
// with the labeled data at a chosen ratio and retrain (from scratch or refine), for N rounds.
export { predictProbabilities } from './predict-probabilities.js';
export type {
  ModelOutput,
  PredictFunction,
  PredictOptions,
  Probabilities,
  PseudoLabelModel,
} from './predict-probabilities.js';
export { pseudoLabel, selectConfident } from './pseudo-label.js';
export type { PseudoLabelOptions, PseudoLabels, PseudoLabelSummary, SelectOptions } from './pseudo-label.js';
export { mixLabeled, pseudoDataset } from './mix-labeled.js';
export type { MixedDataset, MixOptions, MixRatio } from './mix-labeled.js';
export { pseudoLabelRounds } from './pseudo-label-rounds.js';
export type {
  PseudoLabelRoundsOptions,
  PseudoLabelRoundsResult,
  RoundRecord,
  RoundsMode,
  TrainRequest,
} from './pseudo-label-rounds.js';
export { pseudoLabelPlugin } from './pseudo-label-plugin.js';
export type { PseudoLabelPluginOptions, PseudoLabelTraining, RelabelRecord } from './pseudo-label-plugin.js';
