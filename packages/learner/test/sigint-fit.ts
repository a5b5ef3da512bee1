// Run by interrupt.test.ts in a child process (with vite-node): a plain Node script whose fit is stopped by Ctrl-C.
// It sends itself SIGINT from a plugin after step 6 and prints one JSON line with what the interrupted fit left.
import * as tf from '@tensorflow/tfjs';
import { FitInterrupted, plugin } from '../src/index.js';
import { tinyLearner } from '../src/testing.js';

await tf.setBackend('cpu');
let afterFit = false;
const tiny = tinyLearner({
  batches: 4,
  plugins: [
    plugin('ctrlC', {
      afterBatch(ctx) {
        if (ctx.step === 5) process.kill(process.pid, 'SIGINT');
      },
      afterFit() {
        afterFit = true;
      },
    }),
  ],
});
const listenersBefore = process.listenerCount('SIGINT');
try {
  await tiny.learner.fit(5);
  console.log(JSON.stringify({ completed: true }));
} catch (error) {
  console.log(
    JSON.stringify({
      interrupted: error instanceof FitInterrupted,
      message: (error as Error).message,
      steps: tiny.learner.history.steps.length,
      epochs: tiny.learner.history.epochs.length,
      stepCount: tiny.learner.stepCount,
      stopReason: tiny.learner.history.stopReason,
      afterFit,
      listenersLeft: process.listenerCount('SIGINT') - listenersBefore,
    })
  );
}
tiny.dispose();
