import type { z } from 'zod';
import type { Channel, Contract, EventName, Output } from './contract.js';

/** What a handler sees: the input after zod parsing (defaults applied, unknown keys dropped). */
export type ParsedInput<C extends Channel> = z.output<Contract[C]['input']>;

/**
 * One method per contract channel, typed from the contract table. The services receive
 * input already validated by the dispatcher and return plain data; every face (Electron
 * IPC, the web bridge, tests) reaches them only through `dispatch`.
 */
export type ServiceMethods = {
  [C in Channel]: (input: ParsedInput<C>) => Promise<Output<C>>;
};

/** Where services publish events; every face subscribes and forwards them. */
export interface EventSource {
  subscribe(listener: (name: EventName, payload: unknown) => void): () => void;
}

export interface AppServices {
  readonly methods: ServiceMethods;
  readonly events: EventSource;
  /** Close connections and terminals; running tasks stay resumable (their steps are idempotent). */
  close(): Promise<void>;
}
