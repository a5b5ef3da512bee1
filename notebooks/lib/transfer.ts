// Training steps shared by the transfer-learning notebooks (E2.1, E4.2): an LR-finder sweep followed by a fit at the
// suggested rate, and the three discriminative-rate groups of a fine-tuned smallConvNet.
import { tf } from "@convkit/core";
import type { DataLoader } from "@convkit/data";
import { Learner, accuracy, type History } from "@convkit/learner";
import { discriminativeParamGroups, layerGroups } from "@convkit/models";
import { adam, type Optimizer } from "@convkit/optim";
import { lrFind, type LRFindResult } from "@convkit/schedule";

/** Which of the finder's suggestions a run uses. */
export type FinderRule = "minimumDividedBy10" | "steepest" | "valley";

/**
 * Adam over three groups of a (head-replaced) smallConvNet: the first conv at ×0.01, the second conv and what
 * follows it in the backbone at ×0.1, the head at ×1 of `rate` (the head's rate).
 */
export function discriminativeAdam(model: tf.LayersModel, rate: number): Optimizer {
  const convNames = model.layers.filter((layer) => layer.getClassName() === "Conv2D").map((layer) => layer.name);
  const head = layerGroups(model)[1]!.layers[0]!.name;
  const groups = layerGroups(model, { splits: [convNames[1]!, head] });
  return adam({ learningRate: rate, paramGroups: discriminativeParamGroups(model, { groups: groups, learningRates: { base: rate, factor: 0.1 } }) });
}

/** What {@link findAndFit} did. */
export interface FitResult {
  /** The sweep; its rates and suggestions are group 0's (the first conv's, with discriminative rates). */
  found: LRFindResult;
  /** The rate the fit ran at: the head's (the last group's), the finder's suggestion scaled by the groups' ratio. */
  learningRate: number;
  history: History;
  /** Test accuracy after the last epoch (never the best epoch: that would be chosen on the test set). */
  finalAccuracy: number;
}

/**
 * Sweeps the rate with `lrFind` (1e-6 → 1, [002]'s recipe; the weights and optimizer state are put back), then
 * trains `epochs` epochs at the suggestion `rule` with the optimizer `makeOptimizer(rate)` makes.
 */
export async function findAndFit(options: {
  model: tf.LayersModel;
  makeOptimizer: (rate: number) => Optimizer;
  train: () => DataLoader;
  test: () => DataLoader;
  rule: FinderRule;
  epochs: number;
  finderSteps: number;
  seed: number;
}): Promise<FitResult> {
  const { model, makeOptimizer, train, test, rule, epochs, finderSteps, seed } = options;
  const finderOptimizer = makeOptimizer(1e-3);
  const found = await lrFind(new Learner({ model: model, loss: "softmaxCrossEntropy", optimizer: finderOptimizer, train: train(), seed: seed }), {
    steps: finderSteps,
    startLearningRate: 1e-6,
    endLearningRate: 1,
  });
  // lrFind sweeps group 0's rate and moves the other groups with it. With discriminative rates group 0 is the
  // first conv at ×0.01, so its suggestion is converted into the rate `makeOptimizer` takes: the last group's (the
  // head's), which is the one `makeOptimizer(rate)` sets to `rate`.
  const hypers = finderOptimizer.getHypers();
  const headPerGroup0 = hypers.at(-1)!.learningRate! / hypers[0]!.learningRate!;
  finderOptimizer.dispose();
  const learningRate = found.suggestion[rule] * headPerGroup0;
  const history = await fitAt(model, makeOptimizer(learningRate), train, test, epochs, seed);
  return { found: found, learningRate: learningRate, history: history, finalAccuracy: history.epochs.at(-1)!.valid.accuracy! };
}

/** Trains `epochs` epochs with `optimizer` (disposed after), validating on `test` every epoch. */
export async function fitAt(model: tf.LayersModel, optimizer: Optimizer, train: () => DataLoader, test: () => DataLoader, epochs: number, seed: number): Promise<History> {
  const learner = new Learner({ model: model, loss: "softmaxCrossEntropy", optimizer: optimizer, train: train(), valid: test(), metrics: [accuracy()], seed: seed });
  const history = await learner.fit(epochs);
  optimizer.dispose();
  return history;
}
