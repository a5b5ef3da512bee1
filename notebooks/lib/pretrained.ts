// The pretrained backbone of the transfer-learning notebooks (E2.1, E2.3, E4.2), and the class-subset helper they
// share. The weights are made by scripts/pretrain-backbone.mjs and committed in packages/models/pretrained/; they are
// loaded through @convkit/models' model-from-disk path after their sha256 is checked against provenance.json.
import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import { dirname, join, resolve } from "path";
import { createRng, tf } from "@convkit/core";
import { createImageDataset, type ImageDataset } from "@convkit/data";
import { loadLayersModelFromDisk } from "@convkit/models";

/** The backbone's folder, relative to the repository root. */
export const BACKBONE = "packages/models/pretrained/fashion6-smallcnn";

/** What scripts/pretrain-backbone.mjs records beside the weights (the fields the notebooks print). */
export interface Provenance {
  name: string;
  made_by: string;
  date: string;
  architecture: { inputShape: number[]; filters: number[]; dense: number[]; numClasses: number };
  data: { dataset: string; classes: string[]; excluded_classes: string; train_images: number; test_images: number };
  training: { optimizer: string; learningRate: number; batchSize: number; epochs: number; seed: number; backend: string };
  accuracy: { test: number; train: number };
  wall_seconds: number;
  sha256: Record<string, string>;
}

/** The repository root: the first folder at or above `from` that holds `packages/models`. */
export function repoRoot(from: string = process.cwd()): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, "packages", "models", "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no convkit repository (a folder with packages/models) at or above ${from}`);
    dir = up;
  }
}

/**
 * Reads `<dir>/provenance.json` and checks the sha256 of every file it lists; throws naming the file whose hash
 * differs (weights changed without re-recording their provenance) or is missing.
 */
export function verifyProvenance(dir: string): Provenance {
  const path = join(dir, "provenance.json");
  if (!existsSync(path)) throw new Error(`${path} not found: make the backbone with \`node scripts/pretrain-backbone.mjs\``);
  const provenance = JSON.parse(readFileSync(path, "utf8")) as Provenance;
  const files = Object.entries(provenance.sha256 ?? {});
  if (files.length === 0) throw new Error(`${path} lists no sha256 of the model files`);
  for (const [file, expected] of files) {
    const full = join(dir, file);
    if (!existsSync(full)) throw new Error(`${full} is listed in provenance.json but missing`);
    const actual = createHash("sha256").update(readFileSync(full)).digest("hex");
    if (actual !== expected) throw new Error(`${full} has sha256 ${actual}, provenance.json says ${expected}: re-run scripts/pretrain-backbone.mjs`);
  }
  return provenance;
}

/** Loads the committed backbone (a 6-class `smallConvNet`) after checking its provenance; the caller disposes the model. */
export async function loadPretrainedBackbone(root: string = repoRoot()): Promise<{ model: tf.LayersModel; provenance: Provenance }> {
  const dir = join(root, BACKBONE);
  const provenance = verifyProvenance(dir);
  const model = await loadLayersModelFromDisk(dir);
  return { model: model, provenance: provenance };
}

/** One line saying what the backbone is, for the notebooks' output. */
export function describeProvenance(p: Provenance): string {
  return `${p.name}: smallConvNet filters [${p.architecture.filters.join(", ")}], dense [${p.architecture.dense.join(", ")}], ` +
    `pretrained on ${p.data.train_images} ${p.data.dataset.split(" ")[0]} images of ${p.data.classes.length} classes (${p.data.classes.map((c) => c.replace(/^\d+ /, "")).join(", ")}), ` +
    `${p.training.epochs} epochs, seed ${p.training.seed}; test accuracy ${(100 * p.accuracy.test).toFixed(2)}% on ${p.data.test_images} images; weights sha256 ${p.sha256["weights.bin"]!.slice(0, 12)}…`;
}

/** The images of `classes` (at most `perClass` of each, in a seeded order), relabelled 0, 1, … in the order given. */
export function selectClasses(dataset: ImageDataset, classes: readonly number[], perClass: number, pickSeed: number): ImageDataset {
  const order = createRng(pickSeed).permutation(dataset.length);
  const taken = classes.map(() => 0);
  const picked: number[] = [];
  for (const i of order) {
    const c = classes.indexOf(dataset.labels[i]!);
    if (c >= 0 && taken[c]! < perClass) {
      taken[c]!++;
      picked.push(i);
    }
  }
  const pixels = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  const images = new Uint8Array(picked.length * pixels);
  picked.forEach((i, k) => images.set(dataset.images.subarray(i * pixels, (i + 1) * pixels), k * pixels));
  return createImageDataset({
    images: images,
    labels: picked.map((i) => classes.indexOf(dataset.labels[i]!)),
    shape: dataset.shape,
    classNames: classes.map((c) => dataset.classNames[c]!),
  });
}
