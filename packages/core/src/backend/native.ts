// Native tfjs bindings are optional peers: they download libtensorflow at install time,
// which many machines cannot do. Everything here is resolved lazily so that importing
// @selfsup/core never touches them.

export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
export type NativePackage = (typeof NATIVE_PACKAGES)[number];

/** tfjs-node 4.22 calls util functions (e.g. util.isNullOrUndefined) that Node 23 removed. */
export const LAST_NODE_MAJOR_FOR_NATIVE = 22;

export function nodeMajor(version: string = process.versions.node): number {
  return Number(version.split('.')[0]);
}

export function nativeSupportedOnNode(major: number = nodeMajor()): boolean {
  return major <= LAST_NODE_MAJOR_FOR_NATIVE;
}

export function nodeTooNewMessage(major: number = nodeMajor()): string {
  return (
    `@tensorflow/tfjs-node(-gpu) 4.22.0 does not work on Node ${major} (it uses util functions ` +
    `removed in Node 23). Use Node 20 or 22 for the native backend, or choose backend 'wasm'.`
  );
}

/** What a user has to run to get the native backend. */
export function nativeInstallHelp(): string {
  return (
    `Install one of the native bindings (exact version, it must match @tensorflow/tfjs 4.22.0):\n` +
    `  GPU (Linux x64, CUDA 11.2 + cuDNN 8.1 as required by libtensorflow 2.9.1):\n` +
    `    npm install @tensorflow/tfjs-node-gpu@4.22.0\n` +
    `  CPU:\n` +
    `    npm install @tensorflow/tfjs-node@4.22.0\n` +
    `Both download libtensorflow during install (needs internet access). Without them, use backend 'wasm'.`
  );
}

export type ModuleLoader = (name: string) => unknown;

/** Plain `require`, so that a missing optional package fails here and nowhere else. */
export const defaultLoader: ModuleLoader = (name) => require(name);

export interface NativeLoadResult {
  loaded?: NativePackage;
  /** One line per package that failed, for the error message. */
  failures: string[];
}

function shortError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/**
 * Loads the first native binding that can be required, in order gpu → cpu, and stops
 * there: loading both would register the 'tensorflow' backend twice.
 */
export function loadNativeBinding(loader: ModuleLoader = defaultLoader): NativeLoadResult {
  const failures: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      loader(pkg);
      return { loaded: pkg, failures };
    } catch (e) {
      failures.push(`${pkg}: ${shortError(e)}`);
    }
  }
  return { failures };
}

/** Is the package resolvable at all (without loading it)? */
export function isResolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}
