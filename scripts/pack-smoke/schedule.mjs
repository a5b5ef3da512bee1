// @convkit/schedule installed alone: a step schedule drives the learning rate of a real fit.
import { initBackend, tf } from '@convkit/core';
import { Learner } from '@convkit/learner';
import { stepLR } from '@convkit/schedule';

await initBackend({ backend: 'cpu', log: false });
const w = tf.variable(tf.zeros([1, 1]));
const train = {
  length: 2,
  *[Symbol.iterator]() {
    for (const v of [1, 2]) yield { x: tf.tensor2d([[v]]), y: tf.tensor2d([[v]]) };
  },
};
const learner = new Learner({
  model: { variables: [w], forward: (x) => tf.matMul(x, w) },
  loss: 'meanSquaredError',
  optimizer: tf.train.sgd(0.1),
  train,
  plugins: [stepLR({ stepSize: 2, gamma: 0.5 })],
});
const rates = (await learner.fit(2)).steps.map((s) => s.hypers.learningRate);
if (JSON.stringify(rates) !== JSON.stringify([0.1, 0.1, 0.05, 0.05])) throw new Error(`rates ${rates}`);
console.log(`@convkit/schedule: stepLR gave rates ${rates.join(', ')}`);
