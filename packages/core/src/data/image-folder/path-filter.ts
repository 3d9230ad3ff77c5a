/**
 * include/exclude patterns for image-folder datasets, matched against a file's path relative
 * to the dataset root with '/' separators ("cat/img_001.png").
 *
 *  - a RegExp, or a string written as "/body/flags", is a regular expression tested on that path;
 *  - any other string is a glob: `*` and `?` stay within one path segment, `**` spans
 *    segments. A glob without '/' is matched against the file name alone ("*.png"), one with
 *    '/' against the whole path ("cat/**").
 */
import { UserError } from '../../config/errors';

export type PathPattern = string | RegExp;

export type PathPredicate = (relPath: string) => boolean;

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        // "**/" also matches zero directories.
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else {
      re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

export function compilePattern(pattern: PathPattern): PathPredicate {
  if (pattern instanceof RegExp) return (p) => pattern.test(p);
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new UserError(`include/exclude pattern must be a non-empty string or RegExp, got ${JSON.stringify(pattern)}`);
  }
  const literal = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  if (literal) {
    let re: RegExp;
    try {
      re = new RegExp(literal[1], literal[2]);
    } catch (err) {
      throw new UserError(`include/exclude pattern ${pattern} is not a valid regular expression: ${(err as Error).message}`);
    }
    return (p) => re.test(p);
  }
  const re = globToRegExp(pattern);
  if (pattern.includes('/')) return (p) => re.test(p);
  return (p) => re.test(p.slice(p.lastIndexOf('/') + 1));
}

/** Keeps a path when it matches some include pattern (or there are none) and no exclude pattern. */
export function makePathFilter(include?: PathPattern[], exclude?: PathPattern[]): PathPredicate {
  const inc = (include ?? []).map(compilePattern);
  const exc = (exclude ?? []).map(compilePattern);
  return (p) => (inc.length === 0 || inc.some((f) => f(p))) && !exc.some((f) => f(p));
}
