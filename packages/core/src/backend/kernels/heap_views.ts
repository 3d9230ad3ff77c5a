// Data-movement kernels that read the wasm heap through typed-array views. The stock
// Slice calls backend.readSync(x), copying the WHOLE input out of the heap on every call
// (30–55 ms on an 8M-float tensor; unstack into 16 pieces ~480 ms); the stock Identity
// copies too, and the engine clones every tensor it saves for backward with Identity.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { asTensor, delegate, type KernelArgs } from './kernel_util';

function wasmBackend(args: KernelArgs): BackendWasm {
  return args.backend as BackendWasm;
}

/** Copies the box `begin`/`size` of `x` into a new heap tensor, one contiguous run at a time. */
export function sliceFromHeap(backend: BackendWasm, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  // views taken after makeOutput: allocating may grow (and replace) the heap buffer
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const shape = x.shape;
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return out;
  }
  const strides = tf.util.computeStrides(shape);
  const stride = (d: number) => (d < rank - 1 ? strides[d] : 1);
  // k: outermost axis such that every axis after it is taken whole → runs of `run` elements
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size[k] * stride(k);
  const outer = tf.util.sizeFromShape(size.slice(0, k));
  const idx = new Array<number>(k).fill(0);
  let o = 0;
  for (let it = 0; it < outer; it++) {
    let off = begin[k] * stride(k);
    for (let d = 0; d < k; d++) off += (begin[d] + idx[d]) * strides[d];
    dst.set(src.subarray(off, off + run), o);
    o += run;
    for (let d = k - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export function sliceKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === 'string' || x.dtype === 'complex64') return delegate('Slice', args, `dtype ${x.dtype}`);
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return sliceFromHeap(wasmBackend(args), x, b, s);
}

/** Shares the input buffer (as the cpu backend does) instead of copying it. */
export function identityKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === 'string' || x.dtype === 'complex64') return delegate('Identity', args, `dtype ${x.dtype}`);
  wasmBackend(args).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Cast to the dtype the tensor already has shares its data, as Identity does (the stock kernel
 * copies). tfjs's Identity gradient is cast(dy, 'float32'), so every clone in a forward pass
 * (tf.layers copies a layer's input it returns unchanged) cost a full copy in the backward one.
 */
export function castKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
  // The stock kernel copies int32/float32 values into a bool tensor unchanged (2 stays 2); tfjs's
  // other backends give x ≠ 0.
  if (dtype === 'bool' && (x.dtype === 'int32' || x.dtype === 'float32')) return tf.tidy(() => tf.notEqual(asTensor(x), tf.scalar(0, x.dtype)));
  if (x.dtype !== dtype || x.dtype === 'string' || x.dtype === 'complex64') return delegate('Cast', args, `${x.dtype} to ${dtype}`);
  wasmBackend(args).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function unpackKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const value = args.inputs.value as tf.TensorInfo;
  if (value.dtype === 'string' || value.dtype === 'complex64') return delegate('Unpack', args, `dtype ${value.dtype}`);
  const rank = value.shape.length;
  let axis = (args.attrs as unknown as { axis: number }).axis;
  if (axis < 0) axis += rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    const begin = new Array<number>(rank).fill(0);
    begin[axis] = i;
    const o = sliceFromHeap(wasmBackend(args), value, begin, size);
    outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
  }
  return outs;
}

export function splitVKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === 'string' || x.dtype === 'complex64') return delegate('SplitV', args, `dtype ${x.dtype}`);
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((len) => {
    const size = x.shape.slice();
    size[ax] = len;
    const o = sliceFromHeap(wasmBackend(args), x, begin.slice(), size);
    begin[ax] += len;
    return o;
  });
}

/**
 * GatherV2 (batchDims 0) by block copies inside the heap. The stock kernel walks the output
 * element by element; gathering whole samples of a batch (augmentations regroup them) is a
 * memmove per index here. Other dtypes, batchDims and out-of-range indices go to the stock kernel.
 */
export function gatherKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims?: number };
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32' || (batchDims ?? 0) !== 0) {
    return delegate('GatherV2', args, `dtype ${x.dtype}/${indices.dtype} or batchDims ${batchDims}`);
  }
  const be = wasmBackend(args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const dim = x.shape[ax];
  const idx = be.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= dim) return delegate('GatherV2', args, `index ${idx[i]} outside [0, ${dim})`);
  }
  const picked = Array.from(idx);
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const out = be.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  // one integer view of the whole heap (taken after makeOutput, which may grow it): 4-byte
  // elements copied as bits, so float NaN payloads survive
  const xv = be.typedArrayFromHeap(x);
  const heap = new Int32Array(xv.buffer);
  const src = xv.byteOffset / 4;
  let o = be.typedArrayFromHeap(out).byteOffset / 4;
  for (let b = 0; b < outer; b++) {
    const base = src + b * dim * inner;
    for (const k of picked) {
      const s = base + k * inner;
      if (inner >= 16) heap.copyWithin(o, s, s + inner);
      else for (let j = 0; j < inner; j++) heap[o + j] = heap[s + j];
      o += inner;
    }
  }
  return out;
}
