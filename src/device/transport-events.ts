/**
 * The listener bookkeeping every Transport needs (transport.ts's contract):
 * data listeners, and close listeners that hear about the end exactly once.
 */
export class TransportEvents {
  private readonly data = new Set<(chunk: Uint8Array) => void>();
  private readonly close = new Set<(error: Error | null) => void>();
  private closed = false;

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.data.add(listener);
    return () => this.data.delete(listener);
  }

  onClose(listener: (error: Error | null) => void): () => void {
    this.close.add(listener);
    return () => this.close.delete(listener);
  }

  emitData(chunk: Uint8Array): void {
    for (const l of this.data) l(chunk);
  }

  /** Tells the close listeners once, then forgets every listener. Returns false if already closed. */
  emitClose(error: Error | null): boolean {
    if (this.closed) return false;
    this.closed = true;
    const listeners = [...this.close];
    this.close.clear();
    this.data.clear();
    for (const l of listeners) l(error);
    return true;
  }
}
