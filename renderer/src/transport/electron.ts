import { splitTerminalWrite, type Transport } from '../../../main/api/client.js';
import type { Envelope } from '../../../main/api/contract.js';

/** The preload's `window.vlx`, which forwards only contract channels. */
export function electronTransport(bridge: NonNullable<Window['vlx']>): Transport {
  const send = (channel: string, input: unknown) => bridge.invoke(channel, input) as Promise<Envelope<unknown>>;
  return {
    async invoke(channel, input) {
      // A paste over the contract's limit goes as several writes, in order (as over the bridge).
      const pieces = channel === 'terminal.write' ? splitTerminalWrite(input) : undefined;
      if (!pieces) return send(channel, input);
      let last: Envelope<unknown> | undefined;
      for (const p of pieces) {
        last = await send(channel, p);
        if (!last.ok) return last;
      }
      return last!;
    },
    subscribe: (listener) => bridge.subscribe(listener),
  };
}
