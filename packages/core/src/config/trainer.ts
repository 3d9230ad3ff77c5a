import { IsIn, IsInt, IsOptional, Min } from 'class-validator';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export const WEBGPU_ADAPTER_CHOICES = ['any', 'hardware', 'software'] as const;
export type WebgpuAdapterChoice = (typeof WEBGPU_ADAPTER_CHOICES)[number];
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export const NATIVE_KERNELS_CHOICES = ['auto', 'on', 'off'] as const;
export type NativeKernelsChoice = (typeof NATIVE_KERNELS_CHOICES)[number];

/** The `trainer:` section: how long and where to train. */
export class TrainerConfig {
  @IsInt()
  @Min(1)
  epochs: number = 10;

  @IsInt()
  @Min(1)
  batchSize: number = 128;

  @IsIn(BACKEND_CHOICES)
  backend: BackendChoice = 'auto';

  /**
   * With `backend: webgpu`: `any` = a hardware GPU, else the software adapter (slow; said so);
   * `hardware` = only a GPU; `software` = only the software adapter (Dawn's OpenGL ES on Mesa
   * llvmpipe, headless: sets EGL_PLATFORM=surfaceless and XDG_RUNTIME_DIR where unset).
   * `auto` never takes a software adapter.
   */
  @IsIn(WEBGPU_ADAPTER_CHOICES)
  webgpuAdapter: WebgpuAdapterChoice = 'any';

  /**
   * oneDNN convolution/matmul kernels under the wasm backend (the optional @selfsup/native-cpu
   * addon): `auto` = when the addon loads, `on` = required (a config error when it does not),
   * `off` = the wasm kernels only. No effect on the other backends.
   */
  @IsIn(NATIVE_KERNELS_CHOICES)
  nativeKernels: NativeKernelsChoice = 'auto';

  /** wasm threads; unset = from the machine's cores. */
  @IsOptional()
  @IsInt()
  @Min(1)
  threads?: number;

  @IsInt()
  seed: number = 0;

  /** Cut every epoch after this many steps (default: one pass over the data). */
  @IsOptional()
  @IsInt()
  @Min(1)
  stepsPerEpoch?: number;

  /** Stop after this many optimizer steps in total. */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxSteps?: number;

  /** Read and log the step's numbers every N steps (0 = never). */
  @IsInt()
  @Min(0)
  logEvery: number = 10;
}
