import type { Command } from 'commander';
import type { EvacuationPlan } from '../api/contract.js';
import { EXIT, action, printJson } from './output.js';
import { call, runTask } from './client.js';
import { renderHealthTable } from './nodes.js';

const ACTION_WORD: Record<EvacuationPlan['steps'][number]['action'], string> = {
  live: 'live', cold: 'cold', stop: 'stop', remap: 'remap', none: '-', refuse: 'REFUSED',
};

export function renderEvacuationPlan(p: EvacuationPlan): string {
  if (p.steps.length === 0) return `${p.node} runs no VM: evacuating it only puts it in maintenance.\n`;
  const head = ['VM', 'ACTION', 'TARGET', 'WHY'];
  const rows = p.steps.map((s) => [`${s.vc}/${s.vm}`, ACTION_WORD[s.action], s.to ?? '-', s.reason]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const refused = p.steps.filter((s) => s.action === 'refuse').length;
  const tail = refused > 0 ? `\n${refused} VM${refused === 1 ? '' : 's'} would not move (REFUSED above); the others would.` : '';
  return [`Evacuating ${p.node} (mode ${p.mode}${p.fallback !== 'none' ? `, fallback ${p.fallback}` : ''}):`, line(head), ...rows.map(line)].join('\n') + tail + '\n';
}

export function registerNode(program: Command): void {
  const node = program.command('node').description('one node: evacuate it, bring its VMs back, maintenance');

  node.command('evacuate <node>')
    .description('move every VM off the node (by each VC\'s policy and mode), then leave it in maintenance; the plan is printed first')
    .option('--mode <mode>', 'live (live migration), cold (stop here, start there) or stop (stop and leave stopped)', 'live')
    .option('--fallback <what>', 'when a live migration fails (cold or stop) or a VM fits nowhere (stop): none, cold or stop', 'none')
    .option('--dry-run', 'print the plan and change nothing (exit 1 if a VM would be refused)')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, o: { mode: 'live' | 'cold' | 'stop'; fallback: 'none' | 'cold' | 'stop'; dryRun?: boolean; json?: boolean }) => {
      const plan = await call('node.evacuatePlan', { node: name, mode: o.mode, fallback: o.fallback });
      if (o.dryRun) {
        if (o.json) printJson(plan); else process.stdout.write(renderEvacuationPlan(plan));
        return plan.complete ? 0 : 1;
      }
      if (!o.json) process.stdout.write(renderEvacuationPlan(plan));
      const { task, exitCode } = await runTask('node.evacuate', { node: name, mode: o.mode, fallback: o.fallback }, { json: o.json });
      if (o.json) printJson(task);
      else if (exitCode === 0) process.stdout.write(`${name} is evacuated and in maintenance (\`vlx node restore ${name}\` brings its VMs back)\n`);
      return exitCode;
    }, { mode: '--mode', fallback: '--fallback' }));

  node.command('restore <node>')
    .description('end maintenance and bring back the VMs the last evacuation moved away (live where they run)')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, o: { json?: boolean }) => {
      const { task, exitCode } = await runTask('node.restore', { node: name }, { json: o.json });
      if (o.json) printJson(task);
      return exitCode;
    }));

  node.command('maintenance <node> <on|off>')
    .description('put the node in maintenance (placement skips it; its VMs stay where they are) or take it out')
    .action(action(async (name: string, onOff: string) => {
      if (onOff !== 'on' && onOff !== 'off') {
        process.stderr.write(`vlx: error: the second argument must be "on" or "off", not "${onOff}"\n`);
        return EXIT['invalid-input'];
      }
      const h = await call('node.setMaintenance', { node: name, on: onOff === 'on' });
      process.stdout.write(renderHealthTable([h]));
      return 0;
    }));
}
