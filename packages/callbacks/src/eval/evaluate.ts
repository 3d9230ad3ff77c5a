import type { ImageDataset } from '@selfsup/core';
import { extractFeatures, type FeatureExtractor } from './features';
import { weightedKnn, type KnnOptions } from './knn';
import { inferNumClasses } from './labels';
import { linearProbe, type LinearProbeOptions } from './linear-probe';

/** Which part of two labelled datasets an encoder evaluation uses. */
export interface DatasetEvalOptions {
  batchSize?: number;
  bankLimit?: number;
  queryLimit?: number;
  /** Default: the larger of the bank's `classNames.length` and max label + 1. */
  numClasses?: number;
}

export interface DatasetEvalResult {
  top1: number;
  /** Only for kNN with more than 5 classes. */
  top5?: number;
  numClasses: number;
  bankSize: number;
  querySize: number;
}

async function labelledFeatures(extractor: FeatureExtractor, ds: ImageDataset, role: string, limit: number | undefined, batchSize: number | undefined) {
  if (!ds.hasLabels) throw new Error(`the ${role} dataset "${ds.name}" has no labels; evaluation needs labelled bank and query sets`);
  const f = await extractFeatures(extractor, ds, { batchSize, limit });
  return { ...f, labels: f.labels! };
}

async function bankAndQuery(extractor: FeatureExtractor, bankDs: ImageDataset, queryDs: ImageDataset, opts: DatasetEvalOptions) {
  const bank = await labelledFeatures(extractor, bankDs, 'bank', opts.bankLimit, opts.batchSize);
  const query = await labelledFeatures(extractor, queryDs, 'query', opts.queryLimit, opts.batchSize);
  const numClasses = opts.numClasses ?? inferNumClasses(bankDs.classNames?.length ?? queryDs.classNames?.length ?? 1, bank.labels, query.labels);
  return { bank, query, numClasses };
}

/**
 * kNN accuracy of an encoder: features of `bankDs` are the memory bank, `queryDs` is scored.
 * What `selfsup eval --knn` and the kNN baselines (raw pixels: pass `flattenPixels`) run.
 */
export async function evaluateKnn(
  extractor: FeatureExtractor,
  bankDs: ImageDataset,
  queryDs: ImageDataset,
  opts: DatasetEvalOptions & KnnOptions = {},
): Promise<DatasetEvalResult> {
  const { bank, query, numClasses } = await bankAndQuery(extractor, bankDs, queryDs, opts);
  const r = await weightedKnn({
    k: opts.k,
    temperature: opts.temperature,
    chunkSize: opts.chunkSize,
    bankFeatures: bank,
    bankLabels: bank.labels,
    queryFeatures: query,
    queryLabels: query.labels,
    numClasses,
  });
  return { top1: r.top1!, top5: r.top5, numClasses, bankSize: bank.count, querySize: query.count };
}

/** Linear-probe accuracy of an encoder: trained on `bankDs` features, scored on `queryDs`. */
export async function evaluateLinearProbe(
  extractor: FeatureExtractor,
  bankDs: ImageDataset,
  queryDs: ImageDataset,
  opts: DatasetEvalOptions & { probe?: LinearProbeOptions } = {},
): Promise<DatasetEvalResult> {
  const { bank, query, numClasses } = await bankAndQuery(extractor, bankDs, queryDs, opts);
  const r = await linearProbe({
    ...opts.probe,
    trainFeatures: bank,
    trainLabels: bank.labels,
    testFeatures: query,
    testLabels: query.labels,
    numClasses,
  });
  return { top1: r.accuracy!, numClasses, bankSize: bank.count, querySize: query.count };
}
