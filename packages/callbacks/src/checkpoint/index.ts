export * from './options';
export * from './checkpoint-callback';
export { listEpochCheckpoints, pruneEpochCheckpoints, epochDirName } from './prune';
