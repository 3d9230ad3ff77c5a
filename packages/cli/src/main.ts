import { BACKEND_PREFERENCES, isUserError, NATIVE_KERNELS_PREFERENCES } from '@selfsup/core';
import { oneOf, parseArgs, positiveInt, single, UsageError } from './args';
import { stdio, type Output } from './context';
import { parseEncoderChoice } from './encoder';

const USAGE = `usage:
  selfsup train <config.yaml> [--set key=value ...] [--backend auto|tensorflow|webgpu|wasm|cpu] [--native-kernels auto|on|off]
                [--out runs] [--resume RUN_DIR] [--max-steps N] [--plugin MODULE ...] [--no-baselines]
  selfsup eval <run-dir|checkpoint-dir> [--knn] [--linear] [--encoder online|target] [--backend ...]
  selfsup export <run-dir|checkpoint-dir> --out DIR [--encoder online|target]
  selfsup info

  --verbose (or SELFSUP_DEBUG=1) adds the stack trace to an error message

exit codes: 0 success, 1 training failure, 2 bad usage or config (one line saying what to fix)`;

/** `--verbose` anywhere before a `--` (removed from argv), or SELFSUP_DEBUG set to anything but 0/false. */
function takeVerbose(argv: string[], env: NodeJS.ProcessEnv): { argv: string[]; verbose: boolean } {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const head = argv.slice(0, end);
  const debug = env.SELFSUP_DEBUG;
  const verbose = head.includes('--verbose') || (debug !== undefined && !['', '0', 'false'].includes(debug.toLowerCase()));
  return { argv: [...head.filter((a) => a !== '--verbose'), ...argv.slice(end)], verbose };
}

/** The stack of an error and of its causes (what --verbose adds). */
function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\ncaused by: ');
}

/**
 * Runs the CLI; returns the exit code: 0 ok, 1 training failure (with its stack), 2 bad
 * usage or config — any UserError, printed as one line per problem (the stack only with
 * `--verbose` or SELFSUP_DEBUG=1).
 */
export async function main(argvIn: string[], io: Output = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { argv, verbose } = takeVerbose(argvIn, env);
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train': {
        const a = parseArgs(rest, {
          values: ['set', 'backend', 'native-kernels', 'out', 'resume', 'max-steps', 'plugin'],
          switches: ['no-baselines'],
          aliases: { s: 'set' },
        });
        if (a.positionals.length > 1) throw new UsageError(`train takes one config file, got ${a.positionals.join(' ')}`);
        const resume = single(a, 'resume');
        if (!a.positionals[0] && !resume) throw new UsageError('train needs a config file: selfsup train <config.yaml>');
        const { train } = await import('./train');
        await train({
          config: a.positionals[0],
          overrides: a.flags.get('set') ?? [],
          plugins: a.flags.get('plugin') ?? [],
          backend: oneOf(single(a, 'backend'), 'backend', BACKEND_PREFERENCES),
          nativeKernels: oneOf(single(a, 'native-kernels'), 'native-kernels', NATIVE_KERNELS_PREFERENCES),
          out: single(a, 'out'),
          resume,
          maxSteps: positiveInt(single(a, 'max-steps'), 'max-steps'),
          noBaselines: a.booleans.has('no-baselines'),
          io,
        });
        return 0;
      }
      case 'eval': {
        const a = parseArgs(rest, { values: ['backend', 'plugin', 'encoder'], switches: ['knn', 'linear'] });
        if (a.positionals.length !== 1) throw new UsageError('eval needs one run or checkpoint directory');
        const encoder = parseEncoderChoice(single(a, 'encoder'));
        const { evaluate } = await import('./eval');
        await evaluate({ target: a.positionals[0], knn: a.booleans.has('knn'), linear: a.booleans.has('linear'), encoder, backend: oneOf(single(a, 'backend'), 'backend', BACKEND_PREFERENCES), plugins: a.flags.get('plugin') ?? [], io });
        return 0;
      }
      case 'export': {
        const a = parseArgs(rest, { values: ['out', 'backend', 'plugin', 'encoder'], switches: [] });
        if (a.positionals.length !== 1) throw new UsageError('export needs one run or checkpoint directory');
        const out = single(a, 'out');
        if (!out) throw new UsageError('export needs --out DIR');
        const encoder = parseEncoderChoice(single(a, 'encoder'));
        const { exportEncoder } = await import('./export');
        await exportEncoder({ target: a.positionals[0], out, encoder, backend: oneOf(single(a, 'backend'), 'backend', BACKEND_PREFERENCES), plugins: a.flags.get('plugin') ?? [], io });
        return 0;
      }
      case 'info': {
        const { info } = await import('./info');
        await info(io);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; commands: train, eval, export, info (selfsup --help shows the usage)`);
    }
  } catch (err) {
    if (isUserError(err)) {
      for (const line of err.lines()) io.err(`selfsup: ${line}`);
      if (verbose) io.err(stackOf(err));
      return 2;
    }
    io.err(`selfsup: ${command} failed: ${stackOf(err)}`);
    return 1;
  }
}
