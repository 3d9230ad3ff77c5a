import * as tf from '@tensorflow/tfjs';
import { buildResNet, resnetFeatureDim, type ResNetDepth, type ResNetOptions } from './resnet';

/** Stable names usable in configs (`model.backbone: resnet18`). */
export const BACKBONE_NAMES = ['resnet18', 'resnet34', 'resnet50'] as const;
export type BackboneName = (typeof BACKBONE_NAMES)[number];
export type BackboneOptions = Omit<ResNetOptions, 'depth'>;

const DEPTH: Record<BackboneName, ResNetDepth> = { resnet18: 18, resnet34: 34, resnet50: 50 };

function depthOf(name: string): ResNetDepth {
  const depth = DEPTH[name as BackboneName];
  if (depth === undefined) {
    throw new Error(
      `Unknown backbone "${name}"; available: ${BACKBONE_NAMES.join(', ')}. ` +
        'For any other network, build a tf.LayersModel yourself and pass it through wrapBackbone().',
    );
  }
  return depth;
}

export function isBackboneName(name: string): name is BackboneName {
  return Object.prototype.hasOwnProperty.call(DEPTH, name);
}

/** Builds a named backbone; the model's name defaults to the backbone name. */
export function createBackbone(name: BackboneName, opts: BackboneOptions): tf.LayersModel {
  const depth = depthOf(name);
  return buildResNet({ ...opts, depth, name: opts.name ?? name });
}

/** Feature size of a named backbone without building it (e.g. to size the projector). */
export function backboneFeatureDim(name: BackboneName, width = 1): number {
  return resnetFeatureDim(depthOf(name), width);
}
