export { crc32c, maskedCrc32c } from './crc32c';
export { encodeTfRecord, decodeTfRecords } from './tfrecord';
export { ProtoWriter } from './protobuf';
export {
  TensorBoardWriter,
  type TensorBoardWriterOptions,
  EVENT_FILE_VERSION,
  encodeFileVersionEvent,
  encodeScalarEvent,
} from './writer';
export { dropEventsAfterStep, eventFiles, eventStep } from './resume';
