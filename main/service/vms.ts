import { asVlxError } from '../errors.js';
import type { Output } from '../api/contract.js';
import type { VcRunOptions } from './vcCore.js';
import type { Handlers } from './handlers.js';

type C = 'vm.planMove' | 'vm.move';

export const handlers: Handlers<C> = {
  'vm.planMove': async (ctx, { vms, to }) => (await ctx.cluster().vc()).planMoves(vms.map((v) => ({ ...v, to }))),

  /**
   * One result per VM. Moves of one VC take that VC's lock one after another; different
   * VCs move in parallel. Answers once every VM's task has started or it was refused; the
   * tasks' ends are told by `task` events.
   */
  'vm.move': async (ctx, { vms, to }) => {
    const s = await ctx.cluster().vc();
    const byVc = new Map<string, number[]>();
    vms.forEach((r, i) => byVc.set(r.vc, [...(byVc.get(r.vc) ?? []), i]));
    const results: Output<'vm.move'> = new Array(vms.length);
    const started: Promise<void>[] = [];
    for (const idxs of byVc.values()) {
      let chain = Promise.resolve();
      for (const i of idxs) {
        const r = vms[i]!;
        let markStarted!: () => void;
        started.push(new Promise<void>((ok) => { markStarted = ok; }));
        // The early answer says what the move does, as the service's own answer does.
        const plan = s.planMoves([{ ...r, to }]).then(([p]) => p, () => undefined);
        chain = chain.then(() => plan).then((p) => new Promise<void>((ended) => {
          let id: string | undefined;
          const onEvent: VcRunOptions['onEvent'] = (e) => {
            if (id || e.type !== 'task') return;
            id = e.task.id;
            results[i] = { vc: r.vc, vm: r.vm, ok: true, ...(p && p.action !== 'refuse' ? { action: p.action } : {}), taskId: id };
            ctx.changed('vcs');
            markStarted();
          };
          s.moveVms([{ vc: r.vc, vm: r.vm, to }], { onEvent }).then(([res]) => {
            // The service's own answer: a refusal before any task existed, or how the task ended.
            results[i] = res!;
            ctx.changed('vcs', 'nodes');
          }, (e: unknown) => {
            const err = asVlxError(e);
            results[i] = { vc: r.vc, vm: r.vm, ok: false, error: { code: err.code, message: err.message } };
          }).finally(() => { markStarted(); ended(); });
        }));
      }
    }
    await Promise.all(started);
    return [...results];
  },
};
