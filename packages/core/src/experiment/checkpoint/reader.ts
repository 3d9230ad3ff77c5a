import type { Experiment } from '../experiment';
import type { SnapshotMeta } from './format';
import type { RestoreOptions } from './restore';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

/**
 * Where `Experiment.restore` and fit's `resumeFrom` find and read checkpoints. The file-system
 * reader (./io.ts: checkpoint directories on disk) installs itself when that module loads, as
 * @selfsup/core's Node entry does; the browser entry (src/browser.ts) leaves ./io.ts out so that
 * a browser bundle holds no `fs`, and there a restore fails saying so unless a reader is set.
 */
export interface CheckpointReader {
  /** The checkpoint directory for what the user named (a checkpoint, a `checkpoints/` or a run directory); throws when there is none. */
  resolveDir(p: string): Promise<string>;
  /** The checkpoint's meta only (no tensors). */
  readMeta(dir: string): Promise<SnapshotMeta>;
  /** Loads the checkpoint into `exp` (every model must exist). */
  restore(dir: string, exp: AnyExperiment, opts: RestoreOptions): Promise<SnapshotMeta>;
}

// On globalThis: this module may be loaded twice (built dist/ and, under vitest, the sources).
const READER_KEY = Symbol.for('selfsup.checkpoint.reader');

/** Sets the reader `restore()` and `resumeFrom` use (the Node entry sets the file-system one). */
export function setCheckpointReader(reader: CheckpointReader): void {
  (globalThis as unknown as Record<symbol, CheckpointReader>)[READER_KEY] = reader;
}

/** The reader in use; throws when none is set (a browser bundle without one). */
export function checkpointReader(): CheckpointReader {
  const reader = (globalThis as unknown as Record<symbol, CheckpointReader | undefined>)[READER_KEY];
  if (!reader) {
    throw new Error(
      'restoring a checkpoint needs a checkpoint reader: the file-system one comes with the Node entry of @selfsup/core ' +
        '(a browser bundle has none; set one with setCheckpointReader)',
    );
  }
  return reader;
}
