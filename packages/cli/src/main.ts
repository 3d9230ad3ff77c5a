import { ConfigError } from '@selfsup/core';
import { parseArgs, positiveInt, single, UsageError } from './args';
import { stdio, type Output } from './context';
import { parseEncoderChoice } from './encoder';

const USAGE = `usage:
  selfsup train <config.yaml> [--set key=value ...] [--backend auto|tensorflow|wasm|cpu]
                [--out runs] [--resume RUN_DIR] [--max-steps N] [--plugin MODULE ...] [--no-baselines]
  selfsup eval <run-dir|checkpoint-dir> [--knn] [--linear] [--encoder online|target] [--backend ...]
  selfsup export <run-dir|checkpoint-dir> --out DIR [--encoder online|target]
  selfsup info

exit codes: 0 success, 1 training failure, 2 bad usage or config`;

/** Runs the CLI; returns the exit code (0 ok, 1 training failure, 2 bad usage or config). */
export async function main(argv: string[], io: Output = stdio): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train': {
        const a = parseArgs(rest, {
          values: ['set', 'backend', 'out', 'resume', 'max-steps', 'plugin'],
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
          backend: single(a, 'backend'),
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
        await evaluate({ target: a.positionals[0], knn: a.booleans.has('knn'), linear: a.booleans.has('linear'), encoder, backend: single(a, 'backend'), plugins: a.flags.get('plugin') ?? [], io });
        return 0;
      }
      case 'export': {
        const a = parseArgs(rest, { values: ['out', 'backend', 'plugin', 'encoder'], switches: [] });
        if (a.positionals.length !== 1) throw new UsageError('export needs one run or checkpoint directory');
        const out = single(a, 'out');
        if (!out) throw new UsageError('export needs --out DIR');
        const encoder = parseEncoderChoice(single(a, 'encoder'));
        const { exportEncoder } = await import('./export');
        await exportEncoder({ target: a.positionals[0], out, encoder, backend: single(a, 'backend'), plugins: a.flags.get('plugin') ?? [], io });
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
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`selfsup: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError || (err as Error)?.name === 'ConfigError') {
      io.err(`selfsup: bad config:\n${(err as Error).message}`);
      return 2;
    }
    io.err(`selfsup: ${command} failed: ${(err as Error)?.stack ?? String(err)}`);
    return 1;
  }
}
