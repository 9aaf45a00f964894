import { VlxError } from '../../main/errors.js';

/** A call's value, or the code and message of the VlxError it threw: one shape for table tests. */
export function outcome(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VlxError) return { code: e.code, message: e.message };
    throw e;
  }
}
