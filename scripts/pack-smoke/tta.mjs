// @convkit/tta installed alone: test-time augmentation over the eight d4 views of a flip-invariant model.
import * as tf from '@tensorflow/tfjs';
import { d4, withTTA } from '@convkit/tta';

await tf.setBackend('cpu'); // no @convkit/core: this package does not depend on it
// A pooling "classifier": its class scores do not change under flips and rotations, so TTA must equal plain predict.
const model = (x) => tf.mean(x, [1, 2]);
const x = tf.randomUniform([2, 6, 6, 3], 0, 1, 'float32', 5);
const tta = withTTA(model, d4(), { merge: 'mean', output: 'probabilities' });
const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(tta.predict(x), model(x)))));
const [difference] = await gap.data();
gap.dispose();
if (difference > 1e-5) throw new Error(`TTA differs from plain predict by ${difference}`);
console.log(`@convkit/tta: ${tta.views} views merged, ${tta.cost().extraForwardPasses} extra forward passes, equal to plain predict`);
