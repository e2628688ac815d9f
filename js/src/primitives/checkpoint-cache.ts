/**
 * The newest raw state of recently used threads, within a byte budget (least recently used
 * threads go first), so that saving step N+1 needs no decode of step N and loading the newest
 * checkpoint needs no read.
 */
export interface CachedHead {
  position: number;
  seq: number;
  raw: Uint8Array;
  /** Deltas since the thread's last full checkpoint (0 when this one is full). */
  chainLength: number;
  /** Stored bytes of the thread's last full checkpoint. */
  fullStoredBytes: number;
}

export class HeadCache {
  private readonly heads = new Map<string, CachedHead>();
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get(threadId: string): CachedHead | undefined {
    const head = this.heads.get(threadId);
    if (head) {
      // Re-insert: Map keeps insertion order, so the first key is the least recently used.
      this.heads.delete(threadId);
      this.heads.set(threadId, head);
    }
    return head;
  }

  set(threadId: string, head: CachedHead): void {
    this.delete(threadId);
    if (head.raw.length > this.budgetBytes) return;
    this.heads.set(threadId, head);
    this.bytes += head.raw.length;
    for (const [oldest, value] of this.heads) {
      if (this.bytes <= this.budgetBytes) break;
      this.heads.delete(oldest);
      this.bytes -= value.raw.length;
    }
  }

  delete(threadId: string): void {
    const head = this.heads.get(threadId);
    if (!head) return;
    this.heads.delete(threadId);
    this.bytes -= head.raw.length;
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}
