// @convkit/loggers installed alone (with @convkit/learner): a CSV row per epoch from a two-epoch fit.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Learner } from '@convkit/learner';
import { csvLogger } from '@convkit/loggers';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'convkit-loggers-smoke-'));
try {
  const train = {
    length: 2,
    *[Symbol.iterator]() {
      for (let batch = 0; batch < 2; batch++) {
        const x = tf.randomUniform([4, 1], -1, 1, 'float32', batch);
        yield { x, y: tf.tidy(() => x.mul(2)) };
      }
    },
  };
  const w = tf.variable(tf.zeros([1, 1]));
  const learner = new Learner({
    model: { variables: [w], forward: (x) => tf.matMul(x, w) },
    loss: 'meanSquaredError',
    optimizer: tf.train.sgd(0.1),
    train,
    plugins: [csvLogger(join(dir, 'epochs.csv'))],
  });
  await learner.fit(2);
  const rows = readFileSync(join(dir, 'epochs.csv'), 'utf8').trim().split('\n');
  if (rows.length !== 3 || !rows[0].startsWith('epoch,')) throw new Error(`unexpected CSV:\n${rows.join('\n')}`);
  console.log(`@convkit/loggers: csvLogger wrote a header and ${rows.length - 1} epoch rows`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
