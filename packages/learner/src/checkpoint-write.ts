import { writeDirectoryAtomic, type CheckpointFileSystem } from './checkpoint-io.js';
import { MODEL_FILE, STATE_FILE, type CheckpointState, type SavedCheckpoint } from './checkpoint-state.js';
import { encodeModel, WEIGHTS_FILE } from './checkpoint-weights.js';
import type { LearnerModel } from './model.js';

export type { SavedCheckpoint } from './checkpoint-state.js';

/** Writes `model.json`, `weights.bin` and `state.json` into the new directory `directory`, atomically. */
export async function writeCheckpoint(
  fileSystem: CheckpointFileSystem,
  directory: string,
  model: LearnerModel,
  state: CheckpointState
): Promise<SavedCheckpoint> {
  const encoded = await encodeModel(model);
  await writeDirectoryAtomic(
    directory,
    {
      [WEIGHTS_FILE]: encoded.weights,
      [MODEL_FILE]: JSON.stringify(encoded.json),
      [STATE_FILE]: JSON.stringify(state),
    },
    { fileSystem }
  );
  return { directory, position: state.position };
}
