// @convkit/augment installed alone: decode a JPEG made with sharp, augment it twice from one seed, replay the record.
import sharp from 'sharp';
import { createRng } from '@convkit/core';
import { colorJitter, compose, horizontalFlip, imagePipeline, imagesToTensor, randomResizedCrop, rotate } from '@convkit/augment';
import { initBackend } from '@convkit/core';

await initBackend({ backend: 'cpu', log: false });
const pixels = Buffer.alloc(64 * 48 * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
const jpeg = await sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } }).jpeg().toBuffer();
const transform = compose([randomResizedCrop({ width: 32, height: 32 }), horizontalFlip(), rotate({ degrees: 15 }), colorJitter({ brightness: 0.2 })]);
const run = () => imagePipeline({ transform }).run([jpeg], createRng(7));
const [first, second] = [await run(), await run()];
if (Buffer.compare(Buffer.from(first.images[0].data), Buffer.from(second.images[0].data)) !== 0) throw new Error('same seed gave different images');
const x = imagesToTensor(first.images);
if (x.shape.join('x') !== '1x32x32x3') throw new Error(`tensor shape ${x.shape}`);
x.dispose();
console.log(`@convkit/augment: a 64×48 JPEG augmented to 32×32×3, reproducible from its seed`);
