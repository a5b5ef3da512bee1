// @convkit/native installed alone: the addon built at install time runs a convolution and its two gradients.
import { loadNative, nativeStatus } from '@convkit/native';

const status = nativeStatus();
if (!status.available) throw new Error(`the addon did not build or load at install: ${status.reason}`);
const native = loadNative();
const geometry = {
  batchSize: 1, inHeight: 3, inWidth: 3, inChannels: 1, outChannels: 1, filterHeight: 3, filterWidth: 3,
  outHeight: 1, outWidth: 1, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1,
  padInfo: { top: 0, left: 0, bottom: 0, right: 0 },
};
const x = Float32Array.from({ length: 9 }, (_, i) => i + 1);
const filter = new Float32Array(9).fill(1);
const y = new Float32Array(1);
native.conv2d(geometry, x, filter, null, y);
const dx = new Float32Array(9);
const dfilter = new Float32Array(9);
native.conv2dBackwardData(geometry, new Float32Array([2]), filter, dx);
native.conv2dBackwardFilter(geometry, x, new Float32Array([1]), dfilter);
if (y[0] !== 45 || dx.some((v) => v !== 2) || dfilter.some((v, i) => v !== i + 1)) {
  throw new Error(`wrong results: y ${y[0]}, dx ${Array.from(dx)}, dfilter ${Array.from(dfilter)}`);
}
console.log(`@convkit/native: oneDNN ${status.version} (${status.cpuIsa}), 3×3 conv = ${y[0]}, gradients exact`);
