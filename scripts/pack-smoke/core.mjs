// @convkit/core installed alone: pick the wasm backend and take a convolution's gradients on it; `npx convkit --version`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRng, heNormal, initBackend, tf } from '@convkit/core';

const report = await initBackend({ backend: 'wasm', log: false });
const rng = createRng(1);
const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', rng.tfSeed());
const w = heNormal().create([3, 3, 3, 4], rng);
const [dx, dw] = tf.grads((a, b) => tf.conv2d(a, b, 1, 'same').square().sum())([x, w]);
const total = dx.abs().sum().dataSync()[0] + dw.abs().sum().dataSync()[0];
if (!(total > 0 && Number.isFinite(total))) throw new Error(`conv2d gradients are not finite and non-zero: ${total}`);
// The optional @convkit/native came with core; its addon was built at install (libdnnl-dev is there in CI).
if (!report.native?.used) throw new Error(`oneDNN kernels not in use: ${report.native?.detail}`);
const version = execFileSync('npx', ['--no-install', 'convkit', '--version'], { encoding: 'utf8' }).trim();
const { version: installed } = JSON.parse(readFileSync('node_modules/@convkit/core/package.json', 'utf8'));
if (version !== installed) throw new Error(`npx convkit --version printed '${version}', expected '${installed}'`);
console.log(`@convkit/core ${version}: conv2d gradients on ${report.name} with ${report.native.detail}, |dx|+|dw| = ${total.toFixed(3)}`);
