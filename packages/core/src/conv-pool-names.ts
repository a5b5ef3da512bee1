// The kernel names of conv + bias + relu + 2×2 max pool as one kernel (a leaf module: the kernels' providers and the op
// both import it).

/**
 * `maxPool(relu(conv2d(x, filter) + bias), 2, 2, 'valid')` as one kernel: inputs `{ x, filter, bias? }`, attributes
 * `{ pad: 'same' | 'valid' }` (stride 1, no dilation, NHWC float32), output the pooled tensor. Served on wasm by
 * @convkit/native (provider `'native'`); `conv2dReluPool` runs the separate kernels where it is absent.
 */
export const CONV_RELU_POOL_KERNEL = 'ConvkitConv2DReluPool';

/**
 * The backward pass of {@link CONV_RELU_POOL_KERNEL}: inputs `{ x, filter, bias?, dy, pooled? }` (dy: the pooled
 * output's gradient; pooled: the forward's output, whose windows' winners the forward kernel may have recorded),
 * attributes `{ pad, withDz }`; outputs `[dfilter]`, or `[dfilter, dz]` with `withDz` (dz: the convolution output's
 * gradient, for the input's). The bias gradient is recorded beside `dfilter` (see `poolBiasSums`).
 */
export const CONV_RELU_POOL_GRAD_KERNEL = 'ConvkitConv2DReluPoolGrad';

/**
 * The blocked path of `conv2dReluPool` (3×3 convolutions over 16·k channels on wasm with @convkit/native): the
 * convolution `conv(x, filter) + bias` with its output in oneDNN's nChw16c layout, a rank-5 tensor
 * `[n, oc/16, oh, ow, 16]`. Inputs `{ x, filter, bias }`, attributes `{ pad }`.
 */
export const BLOCKED_CONV_KERNEL = 'ConvkitBlockedConv2D';
/** `maxPool(relu(y), 2, 2, 'valid')` in NHWC from a {@link BLOCKED_CONV_KERNEL} output `y`. Inputs `{ y }`. */
export const BLOCKED_RELU_POOL_KERNEL = 'ConvkitBlockedReluPool';
/**
 * The gradient of {@link BLOCKED_RELU_POOL_KERNEL}: inputs `{ y, dy }` (dy: the pooled output's gradient, NHWC), output
 * y's gradient in y's layout; the bias gradient (its sum per channel) is recorded beside it (see `poolBiasSums`).
 */
export const BLOCKED_RELU_POOL_GRAD_KERNEL = 'ConvkitBlockedReluPoolGrad';
/** x's gradient (NHWC) of {@link BLOCKED_CONV_KERNEL}: inputs `{ dy, filter }` (dy blocked), attributes `{ pad, inputShape }`. */
export const BLOCKED_CONV_BACKPROP_INPUT_KERNEL = 'ConvkitBlockedConv2DBackpropInput';
/** The filter's gradient (HWIO) of {@link BLOCKED_CONV_KERNEL}: inputs `{ x, dy }` (dy blocked), attributes `{ pad, filterShape }`. */
export const BLOCKED_CONV_BACKPROP_FILTER_KERNEL = 'ConvkitBlockedConv2DBackpropFilter';

/** Whether a backend's blocked kernels take a convolution of `x` by `filter` with padding `pad`. */
export type BlockedConvFits = (xShape: readonly number[], filterShape: readonly number[], pad: 'same' | 'valid') => boolean;

const blockedFits = new Map<string, BlockedConvFits>();

/** Sets (or, with undefined, removes) the shape test of a backend's blocked kernels; called by their provider. */
export function setBlockedConvFits(backend: string, fits: BlockedConvFits | undefined): void {
  if (fits === undefined) blockedFits.delete(backend);
  else blockedFits.set(backend, fits);
}

/** Whether `backend`'s blocked kernels take the convolution (false where none are declared). */
export function blockedConvFits(backend: string, xShape: readonly number[], filterShape: readonly number[], pad: 'same' | 'valid'): boolean {
  return blockedFits.get(backend)?.(xShape, filterShape, pad) ?? false;
}
