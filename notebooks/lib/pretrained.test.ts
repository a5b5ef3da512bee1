import { createHash } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterEach, describe, expect, it } from "vitest";
import { createImageDataset } from "@convkit/data";
import { BACKBONE, repoRoot, selectClasses, verifyProvenance } from "./pretrained";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function modelFolder(files: Record<string, string>, hashes: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "convkit-provenance-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, "provenance.json"), JSON.stringify({ name: "t", sha256: hashes }));
  return dir;
}
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("verifyProvenance", () => {
  it("accepts files whose sha256 matches", () => {
    const dir = modelFolder({ "model.json": "{}", "weights.bin": "abc" }, { "model.json": sha("{}"), "weights.bin": sha("abc") });
    expect(verifyProvenance(dir).name).toBe("t");
  });

  it("names the file whose weights changed", () => {
    const dir = modelFolder({ "model.json": "{}", "weights.bin": "abd" }, { "model.json": sha("{}"), "weights.bin": sha("abc") });
    expect(() => verifyProvenance(dir)).toThrow(`${join(dir, "weights.bin")} has sha256 ${sha("abd")}, provenance.json says ${sha("abc")}`);
  });

  it("names a listed file that is missing", () => {
    const dir = modelFolder({ "model.json": "{}" }, { "model.json": sha("{}"), "weights.bin": sha("abc") });
    expect(() => verifyProvenance(dir)).toThrow(`${join(dir, "weights.bin")} is listed in provenance.json but missing`);
  });

  it("holds for the committed backbone", () => {
    const provenance = verifyProvenance(join(repoRoot(), BACKBONE));
    expect(provenance.data.excluded_classes).toContain("shirt");
    expect(provenance.accuracy.test).toBeGreaterThan(0.9);
  });
});

describe("selectClasses", () => {
  it("takes at most perClass images of each class, relabelled in the order given", () => {
    // 6 images of 1×1×1 whose pixel value is the index; labels 0,1,2,0,1,2
    const dataset = createImageDataset({ images: Uint8Array.from([0, 1, 2, 3, 4, 5]), labels: [0, 1, 2, 0, 1, 2], shape: [1, 1, 1], classNames: ["a", "b", "c"] });
    const picked = selectClasses(dataset, [2, 0], 1, 7);
    expect(picked.classNames).toEqual(["c", "a"]);
    expect(picked.length).toBe(2);
    const pairs = Array.from(picked.images, (pixel, i) => [pixel, picked.labels[i]]);
    // every picked image keeps its pixels, class 2 became 0 and class 0 became 1
    for (const [pixel, label] of pairs) expect(label).toBe([2, 5].includes(pixel!) ? 0 : 1);
    expect(new Set(picked.labels)).toEqual(new Set([0, 1]));
  });
});
