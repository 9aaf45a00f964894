import type { z } from 'zod';
import { asVlxError, VlxError } from '../errors.js';
import { contract, isChannel, type ApiErrorShape, type Channel, type Envelope } from './contract.js';
import type { AppServices } from './methods.js';

export type Dispatch = (channel: string, input: unknown) => Promise<Envelope<unknown>>;

export interface DispatchOptions {
  /** Per call; long work answers {taskId} at once, so only a stuck call reaches it. */
  timeoutMs?: number;
  /** Channels allowed more time (terminal open waits for an SSH PTY, exec.run for a command). */
  slowTimeoutMs?: number;
}

// vm.move answers once each VM's task has started, which for several VMs of one VC means after the earlier ones ended.
const SLOW = new Set<Channel>(['exec.run', 'terminal.openNodeShell', 'terminal.openVmConsole', 'terminal.reconnect', 'hostKey.probe', 'volumes.tree', 'nodes.list', 'clusters.add', 'vm.move', 'vc.get', 'images.build']);

/** "vms.0.vm: must be …" — the field path and the rule, as VlxError('invalid-input') words it. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`)
    .join('; ');
}

function errorShape(e: unknown): ApiErrorShape {
  const v = asVlxError(e);
  return { code: v.code, message: v.message, ...(v.hint ? { hint: v.hint } : {}) };
}

/**
 * The one place calls arrive: check the channel, validate the input, call the service,
 * check the output is what the contract promises, and wrap everything into an envelope.
 * Nothing thrown escapes: a VlxError keeps its code, anything else becomes 'internal'.
 */
export function createDispatch(services: AppServices, opts: DispatchOptions = {}): Dispatch {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const slowTimeoutMs = opts.slowTimeoutMs ?? 120_000;

  return async (channel, input) => {
    if (!isChannel(channel)) {
      // Only a string is echoed back: String() of a hostile object can throw (`{toString: 1}`).
      const shown = typeof channel === 'string' ? JSON.stringify(channel.slice(0, 100)) : `of type ${typeof channel}`;
      return { ok: false, error: { code: 'invalid-input', message: `channel: unknown channel ${shown}` } };
    }
    const spec = contract[channel];
    const parsed = spec.input.safeParse(input ?? {});
    if (!parsed.success) return { ok: false, error: { code: 'invalid-input', message: describeIssues(parsed.error) } };

    const limit = SLOW.has(channel) ? slowTimeoutMs : timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const method = services.methods[channel] as (i: unknown) => Promise<unknown>;
      const value = await Promise.race([
        method(parsed.data),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new VlxError('timeout', `${channel}: no answer within ${limit >= 1000 ? `${Math.round(limit / 1000)} s` : `${limit} ms`}`)), limit);
        }),
      ]);
      const out = spec.output.safeParse(value);
      if (!out.success) {
        return { ok: false, error: { code: 'internal', message: `${channel}: the service returned data the contract does not allow (${describeIssues(out.error)})` } };
      }
      return { ok: true, value: out.data };
    } catch (e) {
      return { ok: false, error: errorShape(e) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  };
}
