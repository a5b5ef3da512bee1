// @convkit/plot installed alone: draw learning curves to a PNG.
import { learningCurves } from '@convkit/plot';

const history = { epochs: [0, 1, 2].map((epoch) => ({ epoch, train: { loss: 1 / (epoch + 1) }, valid: { loss: 1.2 / (epoch + 1) } })) };
const png = await learningCurves(history).toPNG();
const signature = [0x89, 0x50, 0x4e, 0x47];
if (!signature.every((byte, i) => png[i] === byte)) throw new Error('toPNG did not return a PNG');
console.log(`@convkit/plot: learning curves rendered to a ${png.length}-byte PNG`);
