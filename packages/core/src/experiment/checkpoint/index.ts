// The checkpoint of an experiment, in four parts: the format (meta.json, tensor keys, JSON
// codec, older versions), capture, restore, and the directories on disk.
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  READABLE_CHECKPOINT_VERSIONS,
  SnapshotMismatchError,
  decodeNonFiniteJson,
  disposeSnapshot,
  encodeNonFiniteJson,
  bufferKey,
  layerOrderedWeights,
  upgradeMeta,
  type ExperimentSnapshot,
  type LoopStateDict,
  type SnapshotBuffer,
  type SnapshotCounters,
  type SnapshotMeta,
  type SnapshotOptimizer,
  type SnapshotOptimizerWeight,
  type SnapshotWeight,
} from './format';
export { callbackRngs, captureExperimentState, experimentBuffers, experimentConfigJson, experimentRngs, nonFiniteTensors, type CaptureOptions, type RngProvider } from './capture';
export { restoreExperimentState, restoreModelWeights, type RestoreOptions } from './restore';
export { loadCheckpoint, readCheckpointMeta, resolveCheckpointDir, restoreCheckpoint, saveCheckpoint, writeSnapshot, type SaveCheckpointOptions } from './io';
export { setCheckpointReader, checkpointReader, type CheckpointReader } from './reader';
