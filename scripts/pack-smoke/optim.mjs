// @convkit/optim installed alone: minimise (w - 3)^2 with Adam.
import * as tf from '@tensorflow/tfjs';
import { adam } from '@convkit/optim';

await tf.setBackend('cpu'); // no @convkit/core: this package does not depend on it
const w = tf.variable(tf.scalar(0));
const optimizer = adam({ learningRate: 0.1 });
for (let i = 0; i < 100; i++) {
  const gradient = tf.tidy(() => tf.mul(2, tf.sub(w, 3)));
  optimizer.applyGradients([{ variable: w, gradient }]);
  gradient.dispose();
}
const [value] = await w.data();
if (Math.abs(value - 3) > 0.1) throw new Error(`Adam ended at ${value}, expected about 3`);
console.log(`@convkit/optim: Adam reached w = ${value.toFixed(4)} (target 3)`);
