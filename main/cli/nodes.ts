import type { Command } from 'commander';
import type { NodeInfo } from '../api/contract.js';
import { EXIT, action, printJson } from './output.js';
import { call } from './client.js';

function pair(declared: number | undefined, detected: number | undefined): string {
  return `${declared ?? '-'}/${detected ?? '-'}`;
}

export function renderNodesTable(infos: NodeInfo[]): string {
  const head = ['NODE', 'ADDRESS', 'STATE', 'HOSTNAME', 'KERNEL', 'CORES', 'MEM MB', 'KVM', 'TOOLS'];
  const rows = infos.map((n) => {
    if (n.state !== 'up') {
      return [n.name, n.address, n.state === 'down' ? 'unreachable' : 'error', n.error?.split('\n')[0] ?? '', '', '', '', '', ''];
    }
    return [
      n.name,
      n.address,
      'up',
      n.hostname ?? '-',
      n.kernel ?? '-',
      pair(n.declared?.cores, n.detected?.cores),
      pair(n.declared?.memMb, n.detected?.memMb),
      n.kvm ?? '-',
      n.missingTools && n.missingTools.length > 0 ? `missing ${n.missingTools.join(',')}` : 'all',
    ];
  });
  // An unreachable node's message is long: it is the last thing printed on its row.
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => r[5] !== '' || i < 3).map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const body = rows.map((r) => (r[2] === 'unreachable' || r[2] === 'error' ? line([...r.slice(0, 3), r[3]!]) : line(r)));
  return [line(head), ...body, '', 'CORES and MEM MB are declared/detected.'].join('\n') + '\n';
}

export function registerNodes(program: Command): void {
  program
    .command('nodes')
    .description('the nodes of the current cluster: reachable, hostname, kernel, cores and memory (declared/detected), KVM, required tools')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const infos = await call('nodes.list', {});
      if (o.json) printJson(infos);
      else process.stdout.write(renderNodesTable(infos));
      // A node that refused us (host key changed or unknown, login refused) is the admin's to act on: exit 6, as every command does.
      const refused = infos.find((n) => n.errorCode && EXIT[n.errorCode as keyof typeof EXIT] === EXIT['host-key-changed']);
      return refused ? EXIT['host-key-changed'] : 0;
    }));
}
