// @convkit/optim installed alone: minimise (w - 3)^2 with Adam.
import { initBackend, tf } from '@convkit/core';
import { adam } from '@convkit/optim';

await initBackend({ backend: 'cpu', log: false });
const w = tf.variable(tf.scalar(0));
const optimizer = adam({ learningRate: 0.1 });
for (let i = 0; i < 100; i++) {
  const gradient = tf.tidy(() => tf.mul(2, tf.sub(w, 3)));
  optimizer.applyGradients([{ variable: w, gradient }]);
  gradient.dispose();
}
const value = w.dataSync()[0];
if (Math.abs(value - 3) > 0.1) throw new Error(`Adam ended at ${value}, expected about 3`);
console.log(`@convkit/optim: Adam reached w = ${value.toFixed(4)} (target 3)`);
