import { deployServices, readManifest, servicesStatus, stopServices } from '../node-services/deploy.js';
import { noNodeAnswered } from '../ssh/session.js';
import type { Handlers } from './handlers.js';

type C = 'services.status' | 'services.deploy' | 'services.stop';

export const handlers: Handlers<C> = {
  'services.status': async (ctx) => {
    const c = ctx.cluster();
    const s = await servicesStatus(c.session);
    if (!s.nodes.some((n) => n.reachable)) throw noNodeAnswered(c.name, s.nodes);
    return s;
  },
  /** From the manifest, on every live node (idempotent); a node that does not answer is left alone and named. */
  'services.deploy': async (ctx) => {
    const c = ctx.cluster();
    const manifest = await readManifest(c.session);
    const steps = ['probe', 'deploy', 'status'];
    return {
      taskId: ctx.local.start('services.deploy', c.name, steps, async (t) => {
        t.step('probe');
        const r = await deployServices(c.session, manifest, (p) => {
          if (p.step !== 'probe') t.step('deploy', p.node ? `${p.node}: ${p.note}` : p.note);
          t.log(`${p.step}${p.node ? ` ${p.node}` : ''}: ${p.note}`);
        });
        t.step('status');
        if (r.skipped.length > 0) t.log(`left alone (did not answer): ${r.skipped.join(', ')}`);
        const holders = r.status.holders;
        t.log(`gateway VIP ${r.status.vip ?? '(none)'}: ${holders.length === 0 ? 'held by no node yet' : `held by ${holders.join(', ')}`}`);
        ctx.changed('nodes');
      }),
    };
  },
  'services.stop': async (ctx) => {
    const r = await stopServices(ctx.cluster().session);
    ctx.changed('nodes');
    return r.map((n) => ({ node: n.node, reachable: n.reachable, stopped: [...n.stopped], ...(n.error ? { error: n.error } : {}) }));
  },
};
