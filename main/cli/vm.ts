import type { Command } from 'commander';
import { invalid } from '../errors.js';
import { EXIT, action, printJson } from './output.js';
import { VcService } from '../services/vc.js';
import { taskRenderer } from './vc.js';

export function registerVm(program: Command): void {
  const vm = program.command('vm').description('single VMs of a virtual cluster');

  vm.command('move <vm...>')
    .description('re-map VMs (VC/VM) to a node: a running VM is live-migrated, a saved one restored there')
    .requiredOption('--to <node>', 'target node')
    .option('--json', 'print one result per VM as JSON')
    .action(action(async (refs: string[], o: { to: string; json?: boolean }) => {
      const reqs = refs.map((r) => {
        const m = /^([^/]+)\/([^/]+)$/.exec(r);
        if (!m) throw invalid('VM', 'must be VC/VM, like web/vm2', r);
        return { vc: m[1], vm: m[2], to: o.to };
      });
      const s = VcService.open();
      try {
        const json = Boolean(o.json);
        const results = await s.moveVms(reqs, { onEvent: taskRenderer(json) });
        if (json) printJson(results);
        let code = 0;
        for (const r of results) {
          if (!json) {
            if (r.ok) process.stderr.write(`${r.vc}/${r.vm}: ${r.action === 'migrate' ? 'live-migrated' : 'moved'} to ${o.to}\n`);
            else process.stderr.write(`vlx: error: ${r.vc}/${r.vm}: ${r.error?.message ?? 'failed'}\n`);
          }
          if (!r.ok) code = code || (EXIT[(r.error?.code ?? 'internal') as keyof typeof EXIT] ?? 1);
        }
        return code;
      } finally {
        await s.close();
      }
    }));
}
