// gpu-check's command line. Any mistake is one line on stderr and exit code 2 (gpu-check.ts).
import type { WebgpuAdapterPreference } from '@selfsup/core';

export const PACK_TARGETS = ['linux-x64', 'linux-arm64', 'darwin-universal', 'win32-x64', 'win32-arm64'] as const;
export type PackTarget = (typeof PACK_TARGETS)[number];

export interface GpuCheckArgs {
  help: boolean;
  /** Which WebGPU adapter: any (a GPU, else a software one, reported as such), hardware (a GPU or fail), software. */
  adapter: WebgpuAdapterPreference;
  /** Seconds of measured steps per throughput row, after one warm-up step (at least one step is measured). */
  seconds: number;
  /** Tiny budget: batch 8 in every throughput row, one measured step each, --max-seconds 60 (rows that cannot fit are skipped). */
  quick: boolean;
  /** wasm threads (default: selectBackend's, the core count capped at 8). */
  threads?: number;
  /** The whole run's budget in seconds: a throughput row that cannot fit in what is left is skipped (and says so). */
  maxSeconds: number;
  /** Write a self-contained folder here instead of running the check. */
  pack?: string;
  /** Platform of the dawn.node that goes into the folder (default: this machine's). */
  target?: PackTarget;
}

export const USAGE =
  'usage: gpu-check [--adapter any|hardware|software] [--seconds N] [--quick] [--threads N] [--max-seconds N] | --pack DIR [--target ' +
  PACK_TARGETS.join('|') + ']';

export class ArgError extends Error {}

function positive(name: string, v: string, integer: boolean, allowZero = false): number {
  const n = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(n) && (allowZero ? n >= 0 : n > 0) && (!integer || Number.isInteger(n));
  if (!ok) throw new ArgError(`--${name} takes a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got "${v}"`);
  return n;
}

/** Parses argv (without node and the script); throws ArgError with a one-line message. */
export function parseArgs(argv: string[]): GpuCheckArgs {
  const a: GpuCheckArgs = { help: false, adapter: 'any', seconds: 20, quick: false, maxSeconds: 540 };
  let secondsGiven = false;
  let maxGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? (eq > 0 ? arg.slice(2, eq) : arg.slice(2)) : '';
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new ArgError(`--${name} needs a value`);
      i++;
      return v;
    };
    switch (name) {
      case 'help':
        a.help = true;
        break;
      case 'quick':
        a.quick = true;
        break;
      case 'adapter': {
        const v = value();
        if (v !== 'any' && v !== 'hardware' && v !== 'software') throw new ArgError(`--adapter takes any, hardware or software, got "${v}"`);
        a.adapter = v;
        break;
      }
      case 'seconds':
        a.seconds = positive(name, value(), false, true);
        secondsGiven = true;
        break;
      case 'max-seconds':
        a.maxSeconds = positive(name, value(), false);
        maxGiven = true;
        break;
      case 'threads':
        a.threads = positive(name, value(), true);
        break;
      case 'pack':
        a.pack = value();
        break;
      case 'target': {
        const v = value();
        if (!(PACK_TARGETS as readonly string[]).includes(v)) throw new ArgError(`--target takes ${PACK_TARGETS.join(', ')}, got "${v}"`);
        a.target = v as PackTarget;
        break;
      }
      default:
        throw new ArgError(arg.startsWith('--') ? `unknown option ${arg}` : `unexpected argument "${arg}"`);
    }
  }
  if (a.target && a.pack === undefined) throw new ArgError('--target goes with --pack DIR');
  if (a.quick && !secondsGiven) a.seconds = 0;
  if (a.quick && !maxGiven) a.maxSeconds = 60;
  return a;
}
