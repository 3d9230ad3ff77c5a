// The checkpoint of an experiment, in four parts: the format (meta.json, tensor keys, JSON
// codec, older versions), capture, restore (./portable.ts: no Node module), and the
// directories on disk.
export * from './portable';
export { loadCheckpoint, readCheckpointMeta, resolveCheckpointDir, restoreCheckpoint, saveCheckpoint, writeSnapshot, type SaveCheckpointOptions } from './io';
