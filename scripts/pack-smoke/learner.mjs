// @convkit/learner installed alone: fit y = 2x + 1 with a function model for two steps.
import { initBackend, tf } from '@convkit/core';
import { Learner } from '@convkit/learner';

await initBackend({ backend: 'cpu', log: false });
const w = tf.variable(tf.zeros([1, 1]));
const b = tf.variable(tf.zeros([1]));
const train = {
  length: 2,
  *[Symbol.iterator]() {
    for (const v of [1, 2]) yield { x: tf.tensor2d([[v]]), y: tf.tensor2d([[2 * v + 1]]) };
  },
};
const learner = new Learner({
  model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
  loss: 'meanSquaredError',
  optimizer: tf.train.sgd(0.05),
  train,
});
const history = await learner.fit(1);
if (history.steps.length !== 2 || !(w.dataSync()[0] > 0)) throw new Error('two SGD steps did not move w up');
console.log(`@convkit/learner: 2 steps, loss ${history.epochs[0].train.loss.toFixed(3)}, w = ${w.dataSync()[0].toFixed(3)}`);
