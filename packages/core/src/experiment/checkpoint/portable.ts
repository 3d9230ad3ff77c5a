// The checkpoint parts with no Node module, which @selfsup/core's browser entry (src/browser.ts)
// exports too: the format (meta.json, tensor keys, JSON codec, older versions), capture,
// restore and the reader hook. ./index.ts adds the directories on disk (./io.ts).
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
export { setCheckpointReader, checkpointReader, type CheckpointReader } from './reader';
