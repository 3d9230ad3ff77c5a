import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { availableBackends, describeBackends, isSoftwareAdapter, selectBackend } from '../src/backend';
import { loadNativeBinding, nodeMajor } from '../src/backend/native';
import { pendingTempDirs, rewriteWorkerScript } from '../src/backend/wasm_threads';
import { gpuDeviceNodeMissing } from '../src/backend/webgpu';

const missing = (name: string) => {
  const e = new Error(`Cannot find module '${name}'`);
  (e as { code?: string }).code = 'MODULE_NOT_FOUND';
  throw e;
};

describe('selectBackend', () => {
  it('auto picks threaded wasm here, with the thread count asked for, and prints one line', async () => {
    const lines: string[] = [];
    const info = await selectBackend('auto', { threads: 2, log: (l) => lines.push(l) });
    expect(info).toMatchObject({ name: 'wasm', preference: 'auto', tfjsVersion: '4.22.0', threads: 2, simd: true });
    expect(tf.getBackend()).toBe('wasm');
    expect(getThreadsCount()).toBe(2);
    expect(lines).toHaveLength(1);
    // (+ the oneDNN kernels where @selfsup/native-cpu is built: test/native-cpu.test.ts)
    expect(lines[0]).toMatch(/^selfsup: backend wasm \(tfjs 4\.22\.0, 2 threads, SIMD(, native kernels: oneDNN [^)]+)?\)/);
    // no hardware GPU here: webgpu is tried and skipped (the software adapter is never taken)
    expect(lines[0]).toMatch(/webgpu skipped: /);
    // the init-time worker script is gone once the pool has loaded it
    expect(pendingTempDirs()).toEqual([]);
  });

  it('is a silent no-op for the same choice, and warns (keeping the pool) for another thread count', async () => {
    const lines: string[] = [];
    const again = await selectBackend('auto', { log: (l) => lines.push(l) });
    expect(again.threads).toBe(2);
    expect(lines).toEqual([]);
    const other = await selectBackend('auto', { threads: 1, log: (l) => lines.push(l) });
    expect(other.threads).toBe(2);
    expect(getThreadsCount()).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/already running with 2 thread\(s\); keeping 2/);
  });

  it('switches to cpu and back to the same wasm instance', async () => {
    const lines: string[] = [];
    const cpu = await selectBackend('cpu', { log: (l) => lines.push(l) });
    expect(cpu).toMatchObject({ name: 'cpu', threads: 1, simd: false });
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await selectBackend('wasm', { log: (l) => lines.push(l) });
    expect(wasm).toMatchObject({ name: 'wasm', preference: 'wasm', threads: 2 });
    expect(tf.getBackend()).toBe('wasm');
    expect(lines.map((l) => l.split(' (')[0])).toEqual(['selfsup: backend cpu', 'selfsup: backend wasm']);
  });

  it('refuses an explicit tensorflow backend with what to install', async () => {
    const err = await selectBackend('tensorflow', { log: () => undefined }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain("selectBackend('tensorflow'): no native TensorFlow binding could be loaded");
    expect(msg).toContain('npm install @tensorflow/tfjs-node-gpu@4.22.0');
    expect(msg).toContain('npm install @tensorflow/tfjs-node@4.22.0');
    expect(msg).toContain('CUDA');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses tensorflow on Node >= 23 and skips it in auto without loading anything', async () => {
    const tried: string[] = [];
    const loader = (name: string) => {
      tried.push(name);
      return missing(name);
    };
    const err = await selectBackend('tensorflow', {}, { loader, nodeMajor: 24 }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/does not work on Node 24 .*removed in Node 23/);
    const lines: string[] = [];
    await selectBackend('cpu', { log: () => undefined });
    const info = await selectBackend('auto', { log: (l) => lines.push(l) }, { loader, nodeMajor: 24 });
    expect(info.name).toBe('wasm');
    expect(tried).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/native tfjs-node skipped: .*Node 24/);
  });

  it('rejects unknown preferences and bad thread counts', async () => {
    await expect(selectBackend('gpu' as never)).rejects.toThrow(
      "selectBackend: unknown backend 'gpu'; use one of auto, tensorflow, webgpu, wasm, cpu",
    );
    await expect(selectBackend('wasm', { threads: 0 })).rejects.toThrow('threads must be a positive integer, got 0');
  });
});

describe('native binding loader', () => {
  it('tries gpu then cpu and loads at most one', () => {
    const tried: string[] = [];
    const none = loadNativeBinding((n) => {
      tried.push(n);
      return missing(n);
    });
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(none.loaded).toBeUndefined();
    expect(none.failures[0]).toBe("@tensorflow/tfjs-node-gpu: Cannot find module '@tensorflow/tfjs-node-gpu'");

    const loaded: string[] = [];
    const first = loadNativeBinding((n) => loaded.push(n));
    expect(first.loaded).toBe('@tensorflow/tfjs-node-gpu');
    expect(loaded).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('parses the Node major version', () => {
    expect(nodeMajor('23.1.0')).toBe(23);
    expect(nodeMajor('20.20.2')).toBe(20);
  });
});

describe('backend report', () => {
  it('lists the candidates with install hints', () => {
    const rows = availableBackends(20);
    expect(rows.map((r) => `${r.name}:${r.package}:${r.available}`)).toEqual([
      'tensorflow:@tensorflow/tfjs-node-gpu:false',
      'tensorflow:@tensorflow/tfjs-node:false',
      'webgpu:webgpu + @tensorflow/tfjs-backend-webgpu:true',
      'wasm:@tensorflow/tfjs-backend-wasm:true',
      'cpu:@tensorflow/tfjs:true',
    ]);
    expect(rows[0].reason).toBe('not installed: npm install @tensorflow/tfjs-node-gpu@4.22.0');
    expect(availableBackends(23)[1].reason).toMatch(/Node 23/);
    const text = describeBackends();
    expect(text).toMatch(/current: backend wasm \(tfjs 4\.22\.0, 2 threads, SIMD(, native kernels: oneDNN [^)]+)?\)/);
    expect(text).toMatch(/native kernels \(@selfsup\/native-cpu\): (available: oneDNN \d|unavailable: )/);
    expect(text).toMatch(/wasm threads: supported/);
  });
});

describe('wasm thread shim', () => {
  it('points the pthread worker at the package file and refuses an unknown worker shape', () => {
    const src = 'a;if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{x()}';
    expect(rewriteWorkerScript(src, '/p/main.js')).toBe('a;if(true){importScripts("/p/main.js")}else{x()}');
    expect(() => rewriteWorkerScript('importScripts(other)', '/p')).toThrow(/unexpected shape/);
  });
});

describe('webgpu adapters', () => {
  it('auto loads Dawn on Linux only where a GPU device node exists', () => {
    const fake = (files: string[], dri?: string[]) => ({
      existsSync: (p: string) => files.includes(p),
      readdirSync: (p: string) => {
        if (p === '/dev/dri' && dri) return dri;
        throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      },
    });
    expect(gpuDeviceNodeMissing('linux', fake([]))).toMatch(/^no GPU device on this machine/);
    expect(gpuDeviceNodeMissing('linux', fake([], []))).toMatch(/^no GPU device/);
    expect(gpuDeviceNodeMissing('linux', fake([], ['by-path']))).toMatch(/^no GPU device/);
    expect(gpuDeviceNodeMissing('linux', fake([], ['card0', 'renderD128']))).toBeNull();
    expect(gpuDeviceNodeMissing('linux', fake(['/dev/nvidia0']))).toBeNull();
    expect(gpuDeviceNodeMissing('linux', fake(['/dev/dxg']))).toBeNull();
    expect(gpuDeviceNodeMissing('darwin', fake([]))).toBeNull();
    expect(gpuDeviceNodeMissing('win32', fake([]))).toBeNull();
  });

  it('auto never takes a software or fallback adapter', () => {
    expect(isSoftwareAdapter({ vendor: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: 'Mesa lavapipe' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device (Subzero)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'microsoft', device: 'Microsoft Basic Render Driver' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ampere', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 550.54.15' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3', device: 'Apple M2' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'intel', architecture: 'gen-12lp', description: 'Intel(R) Xe Graphics' })).toBe(false);
  });
});
