import type { EventName, EventPayload } from './contract.js';
import type { EventSource } from './methods.js';

/** A tiny typed fan-out: services emit, faces subscribe. A throwing listener never stops the others. */
export class EventHub implements EventSource {
  private readonly listeners = new Set<(name: EventName, payload: unknown) => void>();

  emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    for (const l of [...this.listeners]) {
      try { l(name, payload); } catch { /* one broken face must not silence the rest */ }
    }
  }

  subscribe(listener: (name: EventName, payload: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  get size(): number {
    return this.listeners.size;
  }
}
