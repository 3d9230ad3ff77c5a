export * from './types';
export { resolveBatchOptions, countBatches, epochBatches, epochSeed } from './batch-order';
export * from './idx';
export { InMemoryImageDataset, type InMemoryImageDatasetInit } from './in-memory-dataset';
export {
  FashionMnistDataset,
  FASHION_MNIST_CLASSES,
  DEBIAN_FASHION_MNIST_DIR,
  locateFashionMnist,
  type FashionMnistLoadOptions,
  type FashionMnistSource,
  type FashionMnistSourceKind,
} from './fashion-mnist';
export { MnistDataset, MNIST_CLASSES, mnistDataDir, type MnistLoadOptions } from './mnist';
export { embeddedFashionMnistDir, corePackageRoot } from './package-root';
export * from './image-folder';
export * from './create-dataset';
