import type sharpModule from 'sharp';

let sharpLoaded: Promise<typeof sharpModule> | undefined;

/** Loads `sharp` on first use, so importing this package does not need it installed. */
export async function loadSharp(caller: string): Promise<typeof sharpModule> {
  const attempt = sharpLoaded ?? import('sharp').then((module) => module.default);
  sharpLoaded = attempt;
  try {
    return await attempt;
  } catch (error) {
    sharpLoaded = undefined;
    throw new Error(`${caller} needs the sharp package (npm install sharp): ${(error as Error).message}`, { cause: error });
  }
}
