/** Append-only typed arrays that double when full: the compact index of entry locations. */
export class GrowableUint32 {
  values: Uint32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.values = new Uint32Array(capacity);
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Uint32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  truncate(length: number): void {
    this.length = Math.min(this.length, length);
  }
  /** Replaces the contents with `values` (with room to grow). */
  assign(values: ArrayLike<number>): void {
    this.values = new Uint32Array(Math.max(1024, values.length));
    this.values.set(values);
    this.length = values.length;
  }
}

export class GrowableUint8 {
  values: Uint8Array;
  length = 0;
  constructor(capacity = 1024) {
    this.values = new Uint8Array(capacity);
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Uint8Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  /** Replaces the contents with `values` (with room to grow). */
  assign(values: ArrayLike<number>): void {
    this.values = new Uint8Array(Math.max(1024, values.length));
    this.values.set(values);
    this.length = values.length;
  }
}
