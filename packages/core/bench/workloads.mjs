// Benchmark workloads shared by bench/run.mjs and bench/profile.mjs. The same models are defined for PyTorch in
// bench/torch_bench.py; keep the two in step.
import * as tf from '@tensorflow/tfjs';
import { conv2dLayer, conv2dPoolLayer, softmaxCrossEntropyFromLogits } from '../dist/index.js';

/**
 * W1 (the workload, 25 MFLOP per training sample) and a VGG-style CIFAR-sized network. `build(conv2d,
 * convPool)`: `conv2d(args)` a conv layer, `convPool(args)` the layers of a relu conv followed by a 2×2 max pool.
 */
export const WORKLOADS = {
  w1: {
    description: 'conv32 3x3 same relu, maxpool 2, conv64 3x3 same relu, maxpool 2, dense128 relu, dense10; 28x28x1',
    input: [28, 28, 1],
    build: (conv2d, convPool) =>
      tf.sequential({
        layers: [
          ...convPool({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
          ...convPool({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 128, activation: 'relu' }),
          tf.layers.dense({ units: 10 }),
        ],
      }),
  },
  vgg: {
    description: '2x conv32, maxpool, 2x conv64, maxpool, conv128 stride 2, dense256 relu, dense10 (3x3 same relu); 32x32x3',
    input: [32, 32, 3],
    build: (conv2d, convPool) =>
      tf.sequential({
        layers: [
          conv2d({ inputShape: [32, 32, 3], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
          ...convPool({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
          conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
          ...convPool({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
          conv2d({ filters: 128, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 256, activation: 'relu' }),
          tf.layers.dense({ units: 10 }),
        ],
      }),
  },
};

/** How {@link flopsPerSample} counts: stated in the bench JSON beside every GFLOP/s figure. */
export const FLOP_CONVENTION =
  'FLOPs per sample = 2 x the multiply-accumulates of the Conv2D and Dense layers, from layer shapes (conv: outH*outW*outC*kH*kW*inC; ' +
  'dense: in*out); bias adds, activations, pooling, the loss and the optimizer are not counted. Inference = forward; ' +
  'training = 3 x forward (forward, gradient of the input, gradient of the weights; the first layer\'s input gradient is counted ' +
  'though neither system computes it). Achieved GFLOP/s = samples/s x FLOPs per sample / 1e9.';

/**
 * The analytic FLOPs of one sample through a tfjs model's Conv2D and Dense layers ({@link FLOP_CONVENTION}), with
 * each counted layer's share.
 */
export function flopsPerSample(model) {
  const layers = [];
  for (const [i, layer] of model.layers.entries()) {
    const kind = layer.getClassName();
    const inputShape = i === 0 ? model.inputs[0].shape : model.layers[i - 1].outputShape;
    let macs;
    if (kind === 'Conv2D' || kind === 'ConvkitConv2DReluPool') {
      const [kh, kw, inC, outC] = layer.kernel.shape;
      // The convolution's own output (before conv2dPoolLayer's pool): tfjs's Conv2D shape rule.
      const conv = kind === 'Conv2D' ? layer.outputShape : tf.layers.conv2d(layer.getConfig()).computeOutputShape(inputShape);
      const [, outH, outW] = conv;
      macs = outH * outW * outC * kh * kw * inC;
    } else if (kind === 'Dense') {
      const [inputs, units] = layer.kernel.shape;
      macs = inputs * units;
    } else continue;
    layers.push({ layer: layer.name, kind, forwardFlops: 2 * macs });
  }
  const forward = layers.reduce((sum, l) => sum + l.forwardFlops, 0);
  return { forward, train: 3 * forward, layers };
}

/**
 * Builds a workload with fixed random data; returns a training step and an inference step, synchronous (`train`,
 * `infer`: wasm, cpu) and asynchronous (`trainAsync`, `inferAsync`: they read with `await data()`, as webgpu in Node
 * needs). Training uses @convkit/optim's `adam` (lr 1e-3, the rule of the peer's torch.optim.Adam, and what the quick
 * start and the Learner use; on wasm it updates every weight in one fused kernel per step), or tfjs's
 * `tf.train.adam` with `optimizer: 'tfjs'`.
 */
export async function setUp(name, batch, { optimizer: kind = 'convkit', layers = 'convkit', loss = 'convkit' } = {}) {
  const workload = WORKLOADS[name];
  if (workload === undefined) throw new Error(`workload must be one of ${Object.keys(WORKLOADS).join(', ')} (received ${name})`);
  if (kind !== 'convkit' && kind !== 'tfjs') throw new Error(`optimizer must be 'convkit' or 'tfjs' (received ${kind})`);
  if (layers !== 'convkit' && layers !== 'tfjs') throw new Error(`layers must be 'convkit' or 'tfjs' (received ${layers})`);
  if (loss !== 'convkit' && loss !== 'tfjs') throw new Error(`loss must be 'convkit' or 'tfjs' (received ${loss})`);
  // convkit's layers: conv2dLayer, and conv2dPoolLayer for a conv followed by a 2×2 pool (one kernel for W1's first
  // block); tfjs's: tf.layers.conv2d and tf.layers.maxPooling2d.
  const model =
    layers === 'tfjs'
      ? workload.build(tf.layers.conv2d, (args) => [tf.layers.conv2d(args), tf.layers.maxPooling2d({ poolSize: 2 })])
      : workload.build(conv2dLayer, (args) => [conv2dPoolLayer(args)]);
  const optimizer = kind === 'tfjs' ? tf.train.adam(1e-3) : (await import('@convkit/optim')).adam({ learningRate: 1e-3 });
  const x = tf.randomNormal([batch, ...workload.input], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2), 10).toFloat();
  // convkit's softmaxCrossEntropyFromLogits (one kernel each way on wasm; what the Learner's 'softmaxCrossEntropy'
  // runs), or tfjs's tf.losses.softmaxCrossEntropy (~35 kernels per step) with loss 'tfjs'.
  const lossOf = () => (loss === 'tfjs' ? tf.losses.softmaxCrossEntropy(y, model.apply(x)) : softmaxCrossEntropyFromLogits(y, model.apply(x)));
  const variables = model.trainableWeights.map((weight) => weight.read());
  // One step: gradients of every trainable weight, one optimizer update, the gradients freed (as minimize does).
  const step = () => {
    if (kind === 'tfjs') return optimizer.minimize(lossOf, true);
    const { value, grads } = tf.variableGrads(lossOf, variables);
    optimizer.applyGradients(variables.map((variable) => ({ variable, gradient: grads[variable.name] })));
    tf.dispose(grads);
    return value;
  };
  const train = () => {
    const loss = step();
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
  const infer = () => {
    const out = tf.tidy(() => model.apply(x));
    out.dataSync();
    out.dispose();
  };
  const trainAsync = async () => {
    const loss = step();
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
  const inferAsync = async () => {
    const out = tf.tidy(() => model.apply(x));
    await out.data();
    out.dispose();
  };
  const dispose = () => {
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  };
  return { model, train, infer, trainAsync, inferAsync, dispose };
}
