/**
 * The few protobuf encodings a TensorBoard scalar event needs, written by hand so that no
 * protobuf runtime (or tfjs-node) is required.
 *
 * @packageDocumentation
 */

const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
type WireType = (typeof WireType)[keyof typeof WireType];

/** Appends protobuf fields to a growing byte list. */
export class ProtoWriter {
  private readonly parts: number[] = [];

  private key(field: number, wire: WireType): void {
    this.varint(BigInt((field << 3) | wire));
  }

  private varint(v: bigint): void {
    // Negative int64 values are encoded as their 64-bit two's complement (10 bytes).
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }

  /** `double` field (wire type I64). */
  double(field: number, v: number): this {
    this.key(field, WireType.I64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.parts.push(...b);
    return this;
  }

  /** `float` field (wire type I32). */
  float(field: number, v: number): this {
    this.key(field, WireType.I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }

  /** `int64` field (varint). */
  int64(field: number, v: number | bigint): this {
    this.key(field, WireType.VARINT);
    this.varint(typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
    return this;
  }

  /** `string` field (UTF-8, length-delimited). */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** `bytes` or embedded message field (length-delimited). */
  bytes(field: number, b: Uint8Array): this {
    this.key(field, WireType.LEN);
    this.varint(BigInt(b.length));
    for (const x of b) this.parts.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
