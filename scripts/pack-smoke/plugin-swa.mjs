// convkit-plugin-swa (a third party's plugin) installed alone with @convkit/learner: average the weights of a fit.
import { initBackend, tf } from '@convkit/core';
import { Learner } from '@convkit/learner';
import { swa } from 'convkit-plugin-swa';

await initBackend({ backend: 'cpu', log: false });
const w = tf.variable(tf.zeros([1, 1]));
const train = {
  length: 2,
  *[Symbol.iterator]() {
    for (const v of [1, 2]) yield { x: tf.tensor2d([[v]]), y: tf.tensor2d([[3 * v]]) };
  },
};
const averaging = swa({ startEpoch: 1 });
const learner = new Learner({ model: { variables: [w], forward: (x) => tf.matMul(x, w) }, loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05), train, plugins: [averaging] });
await learner.fit(4);
if (averaging.averagedCount !== 3) throw new Error(`averaged ${averaging.averagedCount} weight sets, expected 3`);
console.log(`convkit-plugin-swa: averaged ${averaging.averagedCount} epochs' weights, w = ${w.dataSync()[0].toFixed(3)}`);
