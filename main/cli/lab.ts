import type { Command } from 'commander';
import { labCrash, labDown, labStatus, type LabNodeStatus, type LabStatus } from '../lab/index.js';
import { reviveLabNode, startLab } from '../services/lab.js';
import { action, printJson, progressDone, progressLine } from './output.js';

function statusTable(s: LabStatus): string {
  const head = `lab ${s.state}: ${s.nodes.length} nodes on ${s.network} (host ${s.hostAddress}), state in ${s.labDir}`;
  const rows = s.nodes.map(nodeRow);
  return [head, ...rows].join('\n') + '\n';
}

function nodeRow(n: LabNodeStatus): string {
  return `  ${n.name.padEnd(4)} ${n.address.padEnd(11)} netns ${n.netns ? 'yes' : 'no '}  link ${n.link.padEnd(6)} sshd ${n.sshd ? `up (pid ${n.pid})` : 'down'}`;
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('a real local cluster of network namespaces on this machine (root)');

  lab.command('up')
    .description('build the lab (or heal it): N nodes, each with its own network, hostname, mounts and sshd, and the cluster database')
    .option('--nodes <n>', 'number of nodes, 1..32', '4')
    .option('--cores <n>', 'declared cores per node', '4')
    .option('--mem-mb <n>', 'declared memory per node in MB', '8192')
    .option('--json', 'print the lab status as JSON')
    .action(action(async (o: { nodes: string; cores: string; memMb: string; json?: boolean }) => {
      const s = await startLab({ nodes: o.nodes, cores: o.cores, memMb: o.memMb }, progressLine);
      progressDone();
      if (o.json) printJson(s);
      else process.stdout.write(statusTable(s));
    }));

  lab.command('status')
    .description('per node: namespace, link, sshd, address; overall up, down or degraded (exit 0 only when up)')
    .option('--json', 'print JSON')
    .action(action(async (o: { json?: boolean }) => {
      const s = await labStatus();
      if (o.json) printJson(s);
      else process.stdout.write(statusTable(s));
      // Scripts can test `vlx lab status` alone: 0 only when the whole lab is up.
      return s.state === 'up' ? 0 : 1;
    }));

  lab.command('down')
    .description('remove every namespace, link, mount and process of the lab')
    .option('--purge', 'also delete the lab directory (keys, node disks, shared storage)')
    .option('--json', 'print what was removed as JSON')
    .action(action(async (o: { purge?: boolean; json?: boolean }) => {
      const r = await labDown({ purge: Boolean(o.purge) }, progressLine);
      progressDone();
      if (o.json) printJson(r);
    }));

  lab.command('crash')
    .description('power failure of one node: cut its link, SIGKILL everything it runs')
    .argument('<node>', 'lab node name, e.g. n2')
    .option('--json', 'print the node status as JSON')
    .action(action(async (node: string, o: { json?: boolean }) => {
      const n = await labCrash(node);
      if (o.json) printJson(n);
      else process.stdout.write(nodeRow(n) + '\n');
    }));

  lab.command('revive')
    .description('power a crashed node back on with the same identity (address, host key, disks)')
    .argument('<node>', 'lab node name, e.g. n2')
    .option('--json', 'print the node status as JSON')
    .action(action(async (node: string, o: { json?: boolean }) => {
      const n = await reviveLabNode(node, progressLine);
      progressDone();
      if (o.json) printJson(n);
      else process.stdout.write(nodeRow(n) + '\n');
    }));
}
