export * from './image-folder-dataset';
export { compilePattern, makePathFilter, type PathPattern, type PathPredicate } from './path-filter';
export { decodeImageFile, sniffImageFormat, type DecodeTarget } from './decode';
export { IMAGE_EXTENSIONS, SPLIT_FILES, type FolderSplit } from './scan';
