import type { Command } from 'commander';
import type { LabMachine, LabNode, LabStatus } from '../api/contract.js';
import { LAB_DEFAULTS } from '../domain/labLimits.js';
import { action, num, printJson } from './output.js';
import { call, runTask } from './client.js';

const FLAGS = { nodes: '--nodes', cores: '--cores', memMb: '--mem-mb', node: 'NODE', name: 'NAME', mac: '--mac' };

function machineRow(m: LabMachine): string {
  return `  ${m.name.padEnd(10)} ${m.mac}  ${m.running ? `on (pid ${m.pid}, ${m.accel})` : 'off'}  console ${m.serialLog}`;
}

function statusTable(s: LabStatus): string {
  const head = `lab ${s.state}: ${s.nodes.length} nodes on ${s.network} (host ${s.hostAddress}), state in ${s.labDir}`;
  return [head, ...s.nodes.map(nodeRow)].join('\n') + '\n';
}

function nodeRow(n: LabNode): string {
  return `  ${n.name.padEnd(4)} ${n.address.padEnd(11)} netns ${n.netns ? 'yes' : 'no '}  link ${n.link.padEnd(6)} sshd ${n.sshd ? `up (pid ${n.pid})` : 'down'}`;
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('a real local cluster of network namespaces on this machine (root)');

  lab.command('up')
    .description('build the lab (or heal it): N nodes, each with its own network, hostname, mounts and sshd, and the cluster database')
    .option('--nodes <n>', `number of nodes (default ${LAB_DEFAULTS.nodes})`)
    .option('--cores <n>', `declared cores per node (default ${LAB_DEFAULTS.cores})`)
    .option('--mem-mb <n>', `declared memory per node in MB (default ${LAB_DEFAULTS.memMb})`)
    .option('--json', 'print the lab status as JSON')
    .action(action(async (o: { nodes?: string; cores?: string; memMb?: string; json?: boolean }) => {
      const input = {
        ...(o.nodes !== undefined ? { nodes: num(o.nodes) as number } : {}),
        ...(o.cores !== undefined ? { cores: num(o.cores) as number } : {}),
        ...(o.memMb !== undefined ? { memMb: num(o.memMb) as number } : {}),
      };
      const { exitCode } = await runTask('lab.up', input, { json: Boolean(o.json) });
      if (exitCode !== 0) return exitCode;
      const s = await call('lab.status', {});
      if (o.json) printJson(s);
      else process.stdout.write(statusTable(s));
      return 0;
    }, FLAGS));

  lab.command('status')
    .description('per node: namespace, link, sshd, address; overall up, down or degraded (exit 0 only when up)')
    .option('--json', 'print JSON')
    .action(action(async (o: { json?: boolean }) => {
      const s = await call('lab.status', {});
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
      const { task, exitCode } = await runTask('lab.down', { purge: Boolean(o.purge) }, { json: Boolean(o.json) });
      if (o.json) printJson(task.result ?? task);
      return exitCode;
    }));

  lab.command('crash')
    .description('power failure of one node: cut its link, SIGKILL everything it runs')
    .argument('<node>', 'lab node name, e.g. n2')
    .option('--json', 'print the node status as JSON')
    .action(action(async (node: string, o: { json?: boolean }) => {
      const n = await call('lab.crash', { node });
      if (o.json) printJson(n);
      else process.stdout.write(nodeRow(n) + '\n');
    }, FLAGS));

  lab.command('revive')
    .description('power a crashed node back on with the same identity (address, host key, disks)')
    .argument('<node>', 'lab node name, e.g. n2')
    .option('--json', 'print the node status as JSON')
    .action(action(async (node: string, o: { json?: boolean }) => {
      const n = await call('lab.revive', { node });
      if (o.json) printJson(n);
      else process.stdout.write(nodeRow(n) + '\n');
    }, FLAGS));

  lab.command('power-on')
    .description('power on a disk-less machine: QEMU with no disk, an e1000 with iPXE on the lab bridge, booting from the network')
    .argument('<name>', 'machine name, e.g. m1')
    .option('--mac <mac>', 'its MAC (default: derived from the name, the same at every power-on)')
    .option('--json', 'print the machine as JSON')
    .action(action(async (name: string, o: { mac?: string; json?: boolean }) => {
      const m = await call('lab.powerOn', { name, ...(o.mac !== undefined ? { mac: o.mac } : {}) });
      if (o.json) printJson(m);
      else process.stdout.write(machineRow(m) + '\n');
    }, FLAGS));

  lab.command('power-off')
    .description('pull the plug of a disk-less machine (it keeps nothing: its root is on shared storage)')
    .argument('<name>', 'machine name')
    .option('--json', 'print the machine as JSON')
    .action(action(async (name: string, o: { json?: boolean }) => {
      const m = await call('lab.powerOff', { name });
      if (o.json) printJson(m);
      else process.stdout.write(machineRow(m) + '\n');
    }, FLAGS));

  lab.command('machines')
    .description('the disk-less machines of the lab, on or off')
    .option('--json', 'print JSON')
    .action(action(async (o: { json?: boolean }) => {
      const ms = await call('lab.machines', {});
      if (o.json) printJson(ms);
      else process.stdout.write(ms.length === 0 ? 'no machines\n' : ms.map(machineRow).join('\n') + '\n');
    }));
}
