import * as tf from '@tensorflow/tfjs';
import type { LoopContext } from './context.js';
import type { Dispatcher } from './dispatcher.js';
import type { LossFunction } from './losses.js';
import type { ModelAdapter } from './model.js';

/** The gradient-taped part of a training step. */
export interface TapedResult {
  value: tf.Scalar;
  grads: tf.NamedTensorMap;
}

/**
 * Runs the forward pass, `afterPred`, the loss and `afterLoss` inside `tf.variableGrads`, and returns the loss and
 * the gradients (the caller owns both). Every prediction placed in `ctx.pred` is kept and added to `preds` for the
 * caller to dispose (a replaced one may still be needed by the tape, so it cannot go earlier).
 *
 * When anything inside throws (a cancel signal or an error), the tape is still completed with a stand-in loss so
 * that tfjs frees the tensors it saved for the backward pass, and the error is rethrown afterwards.
 */
export function tapedForward(
  ctx: { -readonly [K in keyof LoopContext]: LoopContext[K] },
  model: ModelAdapter,
  lossFn: LossFunction,
  dispatcher: Dispatcher,
  x: tf.Tensor,
  y: tf.Tensor,
  variables: tf.Variable[],
  preds: tf.Tensor[]
): TapedResult {
  let stashed: { error: unknown } | undefined;
  const adoptPred = (): void => {
    if (!(ctx.pred instanceof tf.Tensor)) throw new Error(`ctx.pred must be a tf.Tensor (received ${typeof ctx.pred})`);
    if (!preds.includes(ctx.pred)) preds.push(tf.keep(ctx.pred));
  };
  const checkLoss = (): void => {
    if (!(ctx.loss instanceof tf.Tensor) || ctx.loss.rank !== 0) {
      const received =
        ctx.loss instanceof tf.Tensor ? `a tensor of shape [${ctx.loss.shape.join(', ')}]` : typeof ctx.loss;
      throw new Error(`the loss must be a scalar tensor (received ${received})`);
    }
  };
  const taped = (): tf.Scalar => {
    try {
      ctx.pred = model.forward(x, true);
      adoptPred();
      dispatcher.fireSync('afterPred', adoptPred);
      ctx.loss = lossFn(ctx.pred, y);
      checkLoss();
      dispatcher.fireSync('afterLoss', checkLoss);
      return ctx.loss;
    } catch (error) {
      stashed = { error };
      if (ctx.loss instanceof tf.Tensor && ctx.loss.rank === 0) return ctx.loss;
      if (ctx.pred instanceof tf.Tensor) return tf.sum(ctx.pred);
      throw error;
    }
  };
  let result: TapedResult;
  try {
    result = tf.variableGrads(taped, variables);
  } catch (error) {
    throw stashed === undefined ? error : stashed.error;
  }
  if (stashed !== undefined) {
    tf.dispose([result.value, ...Object.values(result.grads)]);
    ctx.loss = undefined;
    throw stashed.error;
  }
  return result;
}
