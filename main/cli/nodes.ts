import type { Command } from 'commander';
import { inspectNodes, type NodeInfo } from '../nodes/inspect.js';
import { noNodeAnswered, withCurrentCluster } from '../ssh/session.js';
import { action, printJson } from './output.js';

function pair(declared: number | undefined, detected: number | undefined): string {
  return `${declared ?? '-'}/${detected ?? '-'}`;
}

export function renderNodesTable(infos: NodeInfo[]): string {
  const head = ['NODE', 'ADDRESS', 'STATE', 'HOSTNAME', 'KERNEL', 'CORES', 'MEM MB', 'KVM', 'TOOLS'];
  const rows = infos.map((n) => {
    if (!n.reachable || n.error) {
      return [n.node, n.address, n.reachable ? 'error' : 'unreachable', n.error?.message.split('\n')[0] ?? '', '', '', '', '', ''];
    }
    return [
      n.node,
      n.address,
      'up',
      n.hostname ?? '-',
      n.kernel ?? '-',
      pair(n.declared?.cores, n.detected?.cores),
      pair(n.declared?.memMb, n.detected?.memMb),
      n.kvm?.state ?? '-',
      n.missingTools && n.missingTools.length > 0 ? `missing ${n.missingTools.join(',')}` : 'all',
    ];
  });
  // An unreachable node's message is long: it is the last thing printed on its row.
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => r[5] !== '' || i < 3).map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const body = rows.map((r) => (r[2] === 'unreachable' || r[2] === 'error' ? line([...r.slice(0, 3), r[3]]) : line(r)));
  return [line(head), ...body, '', 'CORES and MEM MB are declared/detected.'].join('\n') + '\n';
}

export function registerNodes(program: Command): void {
  program
    .command('nodes')
    .description('the nodes of the current cluster: reachable, hostname, kernel, cores and memory (declared/detected), KVM, required tools')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const infos = await withCurrentCluster(async (session) => {
        const found = await inspectNodes(session);
        if (!found.some((n) => n.reachable)) throw noNodeAnswered(session.config.name, found);
        return found;
      });
      if (o.json) printJson(infos);
      else process.stdout.write(renderNodesTable(infos));
      return 0;
    }));
}
