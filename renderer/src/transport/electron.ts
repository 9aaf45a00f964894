import type { Transport } from '../../../main/api/client.js';
import type { Envelope } from '../../../main/api/contract.js';

/** The preload's `window.vlx`, which forwards only contract channels. */
export function electronTransport(bridge: NonNullable<Window['vlx']>): Transport {
  return {
    invoke: (channel, input) => bridge.invoke(channel, input) as Promise<Envelope<unknown>>,
    subscribe: (listener) => bridge.subscribe(listener),
  };
}
