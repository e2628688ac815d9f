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
}
