import 'reflect-metadata';

// @selfsup/core in a browser: what runs there — the experiment loop, callbacks, configs as
// objects, in-memory data, backends through the browser's own WebGPU (navigator.gpu) and wasm,
// SVG plots — and no Node module. package.json's `browser` field maps dist/index.js here, so
// bundlers (esbuild, webpack, Vite, Rollup's node-resolve) take this file for browser builds.
// The Node entry (./index.ts) has every name below plus what needs a file system or Node:
// YAML files and config resolution with plugins, checkpoint directories, run directories and
// loggers, IDX / image-folder datasets (sharp), PNG output, Dawn's binding, tfjs-node, the wasm
// thread shim. Same names, same meaning: only selectBackend and currentBackend /
// currentWebgpuAdapter have browser versions. test/browser-bundle.test.ts bundles this with
// esbuild for the browser and fails on any Node import.

export * from './util/rng';
export * from './schedules';
export * from './callbacks';

// experiment/index.ts without checkpoint/io.ts (checkpoint directories on disk)
export * from './experiment/experiment';
export type { MethodRunInfo, RunContext } from './experiment/run-context';
export * from './experiment/logs';
export * from './experiment/history';
export * from './experiment/checkpoint/portable';

// plugins/index.ts without load.ts (plugins from files and packages)
export * from './plugins/registry';
export * from './plugins/run';

// config/index.ts without yaml.ts and resolve.ts (config files, plugins named in them)
export * from './config/errors';
export * from './config/validate';
export * from './config/trainer';
export * from './config/data';
export * from './config/export';
export * from './config/root';
export * from './config/overrides';
export { attachSource, sourceOf, originOf } from './config/source';
export type { ConfigSource } from './config/source';
export type { ResolvedConfig, ResolvedCallback } from './config/resolve';

// backend/index.ts with the browser's selectBackend (./backend/select-browser.ts)
export * from './backend/types';
export { selectBackend, currentBackend } from './backend/select-browser';
export { currentWebgpuAdapter } from './backend/webgpu-browser';
export { isSoftwareAdapter, adapterLabel } from './backend/webgpu-adapter';
export { im2colFilterGradient, registerWebgpuTrainingKernels, stockFilterGradientChunk, type FilterGradAttrs, WEBGPU_IM2COL_MAX_VALUES, WEBGPU_IM2COL_MIN_WEIGHTS, WEBGPU_MAX_PIXELS_PER_CALL, WEBGPU_TRAINING_KERNELS, webgpuFilterGradientInstalled, webgpuFilterGradientPath, stockWebgpuKernel } from './backend/kernels/webgpu';
export { DIRECT_MAX_LOOP, directChannelSumChunk, directConvUnsupported, directFilterGradChunk, setWebgpuDirectConv, webgpuDirectConvActive } from './backend/kernels/webgpu-direct-conv';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './backend/kernels/register';
export { conv2dBackpropFilterImpl, conv2dBackpropInputImpl, depthwiseBackpropFilterImpl } from './backend/kernels/conv_grads';
export { accumulateGradients, splitBatch, type AccumulatedGradients } from './backend/memory';
export { batchNormTraining, nativeBatchNormActive, NATIVE_BATCH_NORM_KERNEL_NAMES, type BatchNormTrainingResult, type BatchNormTrainingOptions, type MovingStatistics } from './backend/batch_norm';
export { addRelu, nativeReluFusionActive } from './backend/fused';
export { nativeLarsStep, nativeEmaStep, NATIVE_OPTIMIZER_KERNEL_NAMES, type NativeLarsItem, type NativeLarsSettings } from './backend/native_optim';
export { originalKernel as stockWasmKernel } from './backend/kernels/kernel_util';

// data/index.ts: the in-memory parts (IDX files, Fashion-MNIST / MNIST from disk and image
// folders read files)
export * from './data/types';
export { resolveBatchOptions, countBatches, epochBatches, epochSeed } from './data/batch-order';
export { InMemoryImageDataset, type InMemoryImageDatasetInit } from './data/in-memory-dataset';

// io/index.ts: the SVG plots and PCA (the rest writes files; svgToPng needs sharp)
export { lineChartSvg, type LineChartSpec, type LineSeries } from './io/plots/line-chart';
export { scatterSvg, type ScatterSpec, type ScatterPoint } from './io/plots/scatter';
export { pca2, type Pca2Result, type Pca2Options } from './io/plots/pca';
export { CATEGORICAL_PALETTE, categoricalColor } from './io/plots/palette';
export { niceTicks, formatTick, escapeXml, type Ticks, type NiceTicksOptions } from './io/plots/svg-util';
