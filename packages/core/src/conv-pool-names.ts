// The kernel names of conv + bias + relu + 2×2 max pool as one kernel (a leaf module: the kernels' providers and the op
// both import it).

/**
 * `maxPool(relu(conv2d(x, filter) + bias), 2, 2, 'valid')` as one kernel: inputs `{ x, filter, bias? }`, attributes
 * `{ pad: 'same' | 'valid' }` (stride 1, no dilation, NHWC float32), output the pooled tensor. Served on wasm by
 * @convkit/native (provider `'native'`); `conv2dReluPool` runs the separate kernels where it is absent.
 */
export const CONV_RELU_POOL_KERNEL = 'ConvkitConv2DReluPool';

/**
 * The backward pass of {@link CONV_RELU_POOL_KERNEL}: inputs `{ x, filter, bias?, dy }` (dy: the pooled output's
 * gradient), attributes `{ pad, withDz }`; outputs `[dfilter]`, or `[dfilter, dz]` with `withDz` (dz: the convolution
 * output's gradient, for the input's). The bias gradient is recorded beside `dfilter` (see `poolBiasSums`).
 */
export const CONV_RELU_POOL_GRAD_KERNEL = 'ConvkitConv2DReluPoolGrad';
