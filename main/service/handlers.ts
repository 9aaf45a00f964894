import type { Channel, Output } from '../api/contract.js';
import type { ParsedInput } from '../api/methods.js';
import type { ServiceContext } from './context.js';

/** One domain module's part of the contract: a handler per channel it owns. */
export type Handlers<C extends Channel> = {
  [K in C]: (ctx: ServiceContext, input: ParsedInput<K>) => Promise<Output<K>>;
};
