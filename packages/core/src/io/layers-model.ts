/**
 * Saving and loading `tf.LayersModel`s as `model.json` + `weights.bin` in the standard
 * TensorFlow.js layout, with plain `node:fs` (no tfjs-node). The files load unchanged with
 * `tf.loadLayersModel('file://…/model.json')` in tfjs-node or `tf.loadLayersModel(url)` in
 * a browser: `weightsManifest[0].paths` is `["weights.bin"]`, relative to `model.json`.
 *
 * @packageDocumentation
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic';

/** Name of the topology + weights manifest written by {@link saveLayersModel}. */
export const MODEL_JSON = 'model.json';
/** Name of the single weight shard written by {@link saveLayersModel}. */
export const WEIGHTS_BIN = 'weights.bin';

/**
 * A `tf.io.IOHandler` that saves to and loads from a directory on the local file system:
 * `model.save(dirIOHandler(dir))`, `tf.loadLayersModel(dirIOHandler(dir))`. Saving writes
 * `weights.bin` then `model.json`, each atomically, creating `dir` if needed; wrap it in
 * {@link writeDirAtomic} to replace a whole directory at once.
 */
export function dirIOHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer || artifacts.modelTopology === undefined) {
        throw new Error(
          `saveLayersModel: only JSON model topologies (LayersModel) can be written to "${dir}".`,
        );
      }
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature) modelJson.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer) modelJson.modelInitializer = artifacts.modelInitializer;

      await fsp.mkdir(dir, { recursive: true });
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      await writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weightData.byteLength,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON);
      let text: string;
      try {
        text = await fsp.readFile(jsonPath, 'utf8');
      } catch (err) {
        throw new Error(
          `loadLayersModelFromDir: cannot read "${jsonPath}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
            'pass the directory that holds model.json.',
        );
      }
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new Error(`loadLayersModelFromDir: "${jsonPath}" is not valid JSON (${(err as Error).message}).`);
      }
      if (!modelJson || typeof modelJson.modelTopology !== 'object' || !Array.isArray(modelJson.weightsManifest)) {
        throw new Error(
          `loadLayersModelFromDir: "${jsonPath}" lacks modelTopology or weightsManifest; is it a tfjs layers model?`,
        );
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const rel of group.paths) {
            const file = path.resolve(dir, decodeURIComponent(rel));
            let buf: Buffer;
            try {
              buf = await fsp.readFile(file);
            } catch (err) {
              throw new Error(
                `loadLayersModelFromDir: weight file "${file}" listed in "${jsonPath}" cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
              );
            }
            buffers.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
          }
        }
        const data = tf.io.CompositeArrayBuffer.join(buffers);
        const expected = specs.reduce(
          (sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * (s.dtype === 'bool' ? 1 : 4),
          0,
        );
        if (specs.every((s) => !s.quantization) && data.byteLength !== expected) {
          throw new Error(
            `loadLayersModelFromDir: weights in "${dir}" have ${data.byteLength} bytes but "${jsonPath}" describes ${expected}; ` +
              'the files come from different saves or are truncated.',
          );
        }
        return [specs, data];
      });
    },
  };
}

/**
 * Writes `model` into `dir` as `model.json` + `weights.bin` (standard tfjs layers format,
 * including batch-norm moving statistics, which are weights of the model).
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(dirIOHandler(dir));
}

/** Loads a model written by {@link saveLayersModel} (or by tfjs-node's `file://` saver). */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(dirIOHandler(dir));
}
