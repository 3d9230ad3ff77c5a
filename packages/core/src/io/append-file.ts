import * as fs from 'node:fs';

/**
 * What the run directory's log writers (JSON lines, CSV, TensorBoard events) share: one
 * descriptor written with one write(2) per record, fsync on demand (per epoch, not per step),
 * and a close that is harmless twice.
 */
export abstract class AppendFile {
  abstract readonly filePath: string;
  protected fd: number | undefined;

  /** The open descriptor; throws once the writer is closed. */
  protected openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.constructor.name}: "${this.filePath}" is closed; cannot write.`);
    return this.fd;
  }

  /** Forces what was written to stable storage (fsync). */
  sync(): void {
    if (this.fd !== undefined) fs.fsyncSync(this.fd);
  }

  /** Closes the file; further writes throw, closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
