import type { Envelope } from './contract.js';
import type { Transport } from './client.js';
import type { Dispatch } from './dispatch.js';
import type { EventSource } from './methods.js';

/**
 * A transport whose two ends live in one process, with a JSON round trip at the boundary
 * so that anything that is not plain data breaks here as it would across a real process.
 */
export function memoryTransport(dispatch: Dispatch, events: EventSource): Transport {
  const cross = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
  return {
    async invoke(channel, input) {
      const env = await dispatch(channel, cross(input));
      return cross(env) as Envelope<unknown>;
    },
    subscribe(listener) {
      return events.subscribe((name, payload) => listener(name, cross(payload)));
    },
  };
}
