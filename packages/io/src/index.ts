// @convkit/io: crash-safe file writes shared by every convkit package that saves something (checkpoints, metrics,
// charts, downloads, models). Atomic (temporary + rename) and durable (fsync of the file and its directory).
export { isTemporaryName, nodeFileSystem, temporaryPath, writeDirectoryAtomic, writeFileAtomic } from './atomic.js';
export type { AtomicWriteOptions, FileSystem } from './atomic.js';
