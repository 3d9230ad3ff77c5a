/**
 * Persistence and reporting building blocks: crash-safe writes, tensor checkpoint files,
 * tfjs model export, run directories, JSONL/CSV/TensorBoard loggers, SVG/PNG plots and PCA.
 * Framework-agnostic: nothing here knows about experiments or callbacks.
 */
export {
  writeFileAtomic,
  writeFileAtomicSync,
  writeDirAtomic,
  recoverAtomicDir,
  cleanAtomicLeftovers,
  parseAtomicLeftover,
  fsyncDir,
  type AtomicFileData,
  type AtomicDirStep,
  type WriteDirAtomicOptions,
  type AtomicLeftover,
  type RecoveryReport,
} from './atomic';
export {
  saveTensors,
  loadTensors,
  TENSORS_JSON,
  TENSORS_BIN,
  META_JSON,
  type StoredDType,
  type TensorEntry,
  type TensorsIndex,
  type LoadedTensors,
} from './tensors';
export { saveLayersModel, loadLayersModelFromDir, dirIOHandler, MODEL_JSON, WEIGHTS_BIN } from './layers-model';
export {
  createRunDir,
  writeEnvJson,
  collectEnvInfo,
  RUN_SUBDIRS,
  type CreateRunDirOptions,
  type RunDir,
  type EnvInfo,
} from './run-dir';
export { JsonlWriter, readJsonl, jsonReplacer } from './jsonl';
export {
  MetricsCsvWriter,
  readMetricsCsv,
  type MetricsCsvWriterOptions,
  type MetricsCsv,
  type CsvValue,
} from './metrics-csv';
export * from './tensorboard';
export * from './plots';
