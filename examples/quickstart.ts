import { FashionMnistDataset, saveLayersModel, selectBackend, type BackendPreference } from '@selfsup/core';
import { EmaUpdateCallback, KnnEvalCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { runExample } from './example-options';

export async function main({ steps = 20, limit = 512, backend = 'auto', out = 'runs/quickstart/encoder' } = {}) {
  await selectBackend(backend as BackendPreference); // tfjs-node(-gpu) when installed, else wasm, else cpu
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });
  const exp = new ByolExperiment({ batchSize: 32, model: { width: 1 / 16, projectorHiddenDim: 256, projectorDim: 64, predictorHiddenDim: 256 } });
  exp.datasets.set('train', train).set('val', await FashionMnistDataset.load({ source: 'embedded', split: 'test', limit: 256 }));
  exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback(), new KnnEvalCallback());
  const history = await exp.fit(({ epoch }) => train.batches({ batchSize: 32, shuffle: true, epoch }), { epochs: 1, stepsPerEpoch: steps });
  await saveLayersModel(exp.encoder, out); // model.json + weights.bin, loadable with tf.loadLayersModel
  console.log(`loss ${history.last('loss')?.toFixed(3)}, kNN accuracy ${history.last('knn_acc')?.toFixed(3)}; encoder saved to ${out}`);
  return { exp, history };
}
if (require.main === module) runExample(main, { steps: 20, limit: 512, backend: 'auto', out: 'runs/quickstart/encoder' });
