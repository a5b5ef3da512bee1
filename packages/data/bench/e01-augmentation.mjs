// E0.1's augmentation (flips both ways + affine), as a module a DataLoader's workers can import (`transformModule`).
import { batchAffine, batchFlip, batchTransform, compose } from '@convkit/augment';

/** Builds the E0.1 marker pipeline's batch transform. */
export function augmentation() {
  return batchTransform(compose([batchFlip(), batchFlip({ direction: 'vertical' }), batchAffine({ shift: 0.1, zoom: 0.1, degrees: 15 })]));
}
