import { checkLabOptions } from '../lab/layout.js';
import { labCrash, labDown, labStatus } from '../lab/index.js';
import { labMachines, labPowerOff, labPowerOn } from '../lab/machines.js';
import { reviveLabNode, startLab } from './labStart.js';
import { labNodeView, labView } from './views.js';
import type { Handlers } from './handlers.js';

/** Step names of the lab workflows, and which progress message of the lab module enters which. */
const LAB_UP_STEPS = ['network', 'nodes', 'database'];
const LAB_UP_STEP_OF: [RegExp, string][] = [[/^(bridge|namespaces)\b/, 'network'], [/^starting sshd|nodes answer/, 'nodes'], [/^database on /, 'database']];

type C = 'lab.up' | 'lab.status' | 'lab.down' | 'lab.crash' | 'lab.revive' | 'lab.powerOn' | 'lab.powerOff' | 'lab.machines';

export const handlers: Handlers<C> = {
  'lab.up': async (ctx, input) => {
    const o = checkLabOptions(input);
    return {
      taskId: ctx.local.start('lab.up', `${o.nodes} nodes`, LAB_UP_STEPS, async (t) => {
        t.step('network');
        await startLab(o, (msg) => {
          const step = LAB_UP_STEP_OF.find(([re]) => re.test(msg))?.[1];
          if (step) t.step(step, msg);
          t.log(msg);
        });
        ctx.changed('lab', 'clusters', 'nodes');
      }),
    };
  },
  'lab.status': async () => labView(await labStatus()),
  'lab.down': async (ctx, { purge }) => ({
    taskId: ctx.local.start('lab.down', 'lab', ['remove'], async (t) => {
      t.step('remove');
      await ctx.closeCluster('lab');
      const r = await labDown({ purge }, (msg) => t.log(msg));
      t.log(`removed ${r.namespaces.length} namespace(s)`);
      ctx.changed('lab', 'clusters');
      return { ...r };
    }),
  }),
  'lab.crash': async (ctx, { node }) => {
    const n = await labCrash(node);
    ctx.changed('lab', 'nodes');
    return labNodeView(n);
  },
  'lab.revive': async (ctx, { node }) => {
    const n = await reviveLabNode(node);
    ctx.changed('lab', 'nodes');
    return labNodeView(n);
  },
  'lab.powerOn': async (ctx, { name, mac }) => {
    const m = await labPowerOn(name, mac);
    ctx.changed('lab');
    return m;
  },
  'lab.powerOff': async (ctx, { name }) => {
    const m = await labPowerOff(name);
    ctx.changed('lab');
    return m;
  },
  'lab.machines': async () => labMachines(),
};
