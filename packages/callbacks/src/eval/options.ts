import { UserError } from '@selfsup/core';
import { validateSync, type ValidationError } from 'class-validator';

/**
 * Builds a callback's options from a partial object (programmatic use) or an already
 * validated config object: defaults come from the class's initialisers, then the whole
 * result is validated, so `new KnnEvalCallback({ every: 0 })` fails as the YAML would.
 */
export function resolveCallbackOptions<T extends object>(cls: new () => T, given: Partial<T> | undefined, callback: string): T {
  const opts = new cls();
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new UserError(`callback "${callback}": options must be an object, got ${Array.isArray(given) ? 'an array' : String(given)}`);
  }
  for (const [key, value] of Object.entries(given ?? {})) {
    // An explicit undefined (e.g. `{ bankLimit: opts.limit }`) keeps the default.
    if (value !== undefined) (opts as Record<string, unknown>)[key] = value;
  }
  const errors = validateSync(opts, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    throw new UserError(`callback "${callback}": invalid options: ${errors.map(describe).join('; ')}`);
  }
  return opts;
}

function describe(e: ValidationError): string {
  const rules = Object.values(e.constraints ?? {});
  const value = JSON.stringify(e.value) ?? String(e.value);
  if (e.constraints && 'whitelistValidation' in e.constraints) return `unknown option "${e.property}" (value ${value})`;
  return `option "${e.property}" = ${value}: ${rules.join(', ')}`;
}
