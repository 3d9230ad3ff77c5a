import * as tf from '@tensorflow/tfjs';
import type { WebgpuAdapterInfo } from './types';

/*
 * What the two ways to a WebGPU adapter share — Dawn's Node binding (./webgpu.ts) and a
 * browser's `navigator.gpu` (./webgpu-browser.ts): reading an adapter's info, telling software
 * adapters apart, and the tfjs 'webgpu' backend factory on the adapter chosen. No Node module
 * is imported here: @selfsup/core's browser entry bundles this file.
 */

/** The subset of WebGPU's `GPUAdapter` used here (Dawn's and browsers' alike). */
export interface GpuAdapterLike {
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  readonly info?: Record<string, unknown>;
  readonly isFallbackAdapter?: boolean;
  requestDevice(desc?: Record<string, unknown>): Promise<GpuDeviceLike>;
}
export interface GpuDeviceLike {
  readonly lost?: Promise<{ reason?: string; message?: string }>;
  addEventListener?: (type: string, fn: (ev: { error?: { message?: string } }) => void) => void;
  destroy?: () => void;
}
/** The subset of `navigator.gpu` (a `GPU`) used here. */
export interface GpuLike {
  requestAdapter(opts?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}

/** What @tensorflow/tfjs-backend-webgpu exports that is used here. */
export interface TfjsWebgpuModule {
  WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend;
}

/** Names of software rasterisers / fallback adapters, as drivers report them. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render|\bwarp\b/i;

/**
 * A CPU rasteriser or fallback adapter, which `auto` must never take. Dawn reports Mesa's
 * llvmpipe through OpenGL ES as an ordinary adapter (isFallbackAdapter false, no vendor), so
 * the names count too.
 */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  return SOFTWARE_NAMES.test([info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' '));
}

/** An adapter's info as selfsup reports it; `backendType` and `featureLevel` are the caller's (how it asked). */
export function describeAdapter(adapter: GpuAdapterLike, backendType: string, featureLevel: 'core' | 'compatibility'): WebgpuAdapterInfo {
  const i = (adapter.info ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof i[k] === 'string' ? (i[k] as string) : '');
  const vendor = str('vendor');
  const architecture = str('architecture');
  const device = str('device');
  const description = str('description');
  const fallback = Boolean(adapter.isFallbackAdapter ?? i.isFallbackAdapter);
  const software = isSoftwareAdapter({ vendor, architecture, device, description, isFallbackAdapter: fallback });
  return { vendor, architecture, device, description, backendType, software, fallback, featureLevel };
}

/** "llvmpipe (OpenGL ES, software)" / "nvidia ampere (Vulkan)". */
export function adapterLabel(a: WebgpuAdapterInfo): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.device || a.description || 'unnamed adapter';
  const device = a.vendor && a.device && !name.includes(a.device) ? ` ${a.device}` : '';
  const extra = [a.backendType, a.software ? (a.fallback ? 'fallback' : 'software') : null,
    a.featureLevel === 'compatibility' ? 'compatibility mode' : null].filter(Boolean);
  return `${name}${device} (${extra.join(', ')})`;
}

/**
 * The adapter as tfjs's backend factory sees it: `requiredFeatures` flattened before
 * requestDevice (tfjs 4.22 passes a nested array), device errors and loss logged.
 */
export function adapterForTfjs(adapter: GpuAdapterLike, log: (line: string) => void): GpuAdapterLike {
  return {
    features: adapter.features,
    limits: adapter.limits,
    info: adapter.info,
    isFallbackAdapter: adapter.isFallbackAdapter,
    async requestDevice(desc: Record<string, unknown> = {}) {
      const features = desc.requiredFeatures as unknown[] | undefined;
      const flat = Array.isArray(features) ? [...new Set(features.flat(Infinity as 1) as string[])] : undefined;
      const device = await adapter.requestDevice({ ...desc, ...(flat ? { requiredFeatures: flat } : {}) });
      device.addEventListener?.('uncapturederror', (ev) => log(`selfsup: webgpu error: ${ev.error?.message ?? 'unknown'}`));
      void device.lost?.then((info) => {
        if (info?.reason !== 'destroyed') log(`selfsup: webgpu device lost: ${info?.message ?? info?.reason ?? 'unknown'}`);
      });
      return device;
    },
  };
}

/**
 * Registers tfjs's 'webgpu' backend factory on the adapter `chosen()` returns (read when tfjs
 * initialises the backend): the device gets the features and limits tfjs's own factory asks for.
 */
export function registerWebgpuFactory(mod: TfjsWebgpuModule, chosen: () => GpuAdapterLike): void {
  tf.registerBackend('webgpu', async () => {
    const a = chosen();
    const device = await a.requestDevice({
      requiredFeatures: ['timestamp-query', 'bgra8unorm-storage'].filter((f) => a.features.has(f)),
      requiredLimits: Object.fromEntries(
        ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize',
          'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'].map((k) => [k, a.limits[k]])),
    });
    return new mod.WebGPUBackend(device, a.info);
  }, 3);
}

/** First line of an error's message. */
export function errText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
