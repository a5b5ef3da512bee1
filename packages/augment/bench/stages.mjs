// Where one image's time goes, stage by stage, one image at a time: the process's CPU time (user + system, all
// threads, so sharp's decoding thread counts too) per image, best of 5 runs of each stage over the same images.
// CPU time rather than wall time, so that other processes on the machine change it little.
import { readFileSync } from 'node:fs';
import { Rng } from '@convkit/core';
import { decodeImage, imageSize, imagesToTensor } from '../dist/index.js';
import { leadingAffine, applyPlanToFloat32 } from '../dist/compose.js';
import { embedRegion, readRegion, warpAffine } from '../dist/warp.js';
import { dctScale, nativeJpegDecoder } from '../dist/native-jpeg.js';

async function best(run) {
  let fastest = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    await run();
    const used = process.cpuUsage(start);
    fastest = Math.min(fastest, (used.user + used.system) / 1000);
  }
  return fastest;
}

export async function profileStages(files, transform) {
  const n = files.length;
  const rng = new Rng(1);
  const shapes = await Promise.all(files.map((file) => imageSize(file)));
  const records = shapes.map((shape) => transform.sampleAll(rng.fork(), shape));
  const plans = records.map((record, i) => leadingAffine(transform.children, shapes[i], record.params));
  const regions = plans.map(({ map }, i) => readRegion(map, shapes[i].width, shapes[i].height));
  const full = await Promise.all(files.map((file) => decodeImage(file)));
  const parts = await Promise.all(files.map((file, i) => decodeImage(file, { region: regions[i] })));
  const warped = parts.map((part, i) => warpAffine(embedRegion(part, regions[i], 500, 500), plans[i].map));
  const out = new Float32Array(warped[0].data.length);
  const stage = async (run) => (await best(async () => { for (let i = 0; i < n; i++) await run(i); })) / n;
  const native = await nativeJpegDecoder();
  const bytes = files.map((file) => readFileSync(file));
  const nativeWarp = (i, scale) => {
    const k = scale / 8;
    const { map } = plans[i];
    return native.decode(bytes[i], { scale, warp: { matrix: map.matrix.map((v) => v * k), width: map.width, height: map.height } });
  };
  const colourBytes = (i) => transform.children[3].apply(warped[i], plans[i].rest[0].record.params);
  return {
    readHeader: await stage((i) => headerOf(files[i])),
    decodeWholeImage: await stage((i) => decodeImage(files[i])),
    decodeRegion: await stage((i) => decodeImage(files[i], { region: regions[i] })),
    regionShareOfPixels: regions.reduce((sum, r) => sum + (r.width * r.height) / (500 * 500), 0) / n,
    warpWholeImage: await stage((i) => warpAffine(full[i], plans[i].map)),
    warpRegionInFrame: await stage((i) => warpAffine(embedRegion(parts[i], regions[i], 500, 500), plans[i].map)),
    ...('decode' in native
      ? {
          nativeDecodeWhole: await stage((i) => native.decode(bytes[i], {})),
          nativeDecodeRegionAndWarp: await stage((i) => nativeWarp(i, 8)),
          nativeDecodeShrunkRegionAndWarp: await stage((i) => nativeWarp(i, dctScale(plans[i].map))),
          nativeShrinkShare: plans.filter(({ map }) => dctScale(map) < 8).length / n,
        }
      : { native: native.reason }),
    colourJitterBytes: await stage(colourBytes),
    bytesToFloat: await stage((i) => imagesToTensor([warped[i]]).dispose()),
    colourJitterToFloatFused: await stage((i) => applyPlanToFloat32(transform.children, warped[i], plans[i].rest, out, 0, 1 / 255)),
  };
}

function headerOf(file) {
  return imageSize(readFileSync(file));
}
