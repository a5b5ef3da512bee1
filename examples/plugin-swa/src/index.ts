// convkit-plugin-swa: stochastic weight averaging for @convkit/learner, written only against convkit's public API.
export { swa } from './swa.js';
export type { SwaPlugin, SwaState } from './swa.js';
export { swaLearningRateAt } from './swa-options.js';
export type { SwaOptions, SwaLearningRate } from './swa-options.js';
