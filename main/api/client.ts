import type { ApiErrorShape, Channel, Envelope, EventName, EventPayload, Input, Output } from './contract.js';
import { TERMINAL_WRITE_CHUNK } from './wire.js';

/**
 * How a face reaches the main side: Electron's preload, the browser bridge's WebSocket,
 * or an in-memory pair in tests. Only plain data goes through it.
 */
export interface Transport {
  invoke(channel: string, input: unknown): Promise<Envelope<unknown>>;
  subscribe(listener: (name: string, payload: unknown) => void): () => void;
}

/** A failed call, as the renderer sees it: the code decides what to show, the message says what. */
export class ApiError extends Error {
  readonly code: string;
  readonly hint?: string;
  constructor(e: ApiErrorShape) {
    super(e.message);
    this.name = 'ApiError';
    this.code = e.code;
    if (e.hint) this.hint = e.hint;
  }
}

export interface Client {
  /** The envelope as it came: for callers that show errors inline. */
  invoke<C extends Channel>(channel: C, input: Input<C>): Promise<Envelope<Output<C>>>;
  /** The value, or an ApiError thrown. */
  call<C extends Channel>(channel: C, input: Input<C>): Promise<Output<C>>;
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void;
}

export function createClient(transport: Transport): Client {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  let unsubscribe: (() => void) | undefined;

  const ensureSubscribed = () => {
    unsubscribe ??= transport.subscribe((name, payload) => {
      for (const l of listeners.get(name) ?? []) l(payload);
    });
  };

  return {
    invoke: (channel, input) => transport.invoke(channel, input) as Promise<Envelope<never>>,
    async call(channel, input) {
      const env = await transport.invoke(channel, input);
      if (!env.ok) throw new ApiError(env.error);
      return env.value as never;
    },
    on(name, listener) {
      ensureSubscribed();
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      const l = listener as (p: unknown) => void;
      set.add(l);
      return () => { set.delete(l); };
    },
  };
}

/**
 * Every transport (the bridge's socket, Electron IPC) sends a big paste this way. A paste larger than one call may carry, as several terminal.write inputs in order; never
 * splitting a surrogate pair. Undefined when the input needs no splitting (or is not a write).
 */
export function splitTerminalWrite(input: unknown, chunk = TERMINAL_WRITE_CHUNK): { sessionId: unknown; data: string }[] | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { sessionId, data } = input as { sessionId?: unknown; data?: unknown };
  if (typeof data !== 'string' || data.length <= chunk) return undefined;
  const out: { sessionId: unknown; data: string }[] = [];
  for (let i = 0; i < data.length;) {
    let end = Math.min(i + chunk, data.length);
    const last = data.charCodeAt(end - 1);
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    out.push({ sessionId, data: data.slice(i, end) });
    i = end;
  }
  return out;
}
