import type { Command } from 'commander';
import type { NodeHealth, NodeInfo } from '../api/contract.js';
import { EXIT, action, printJson } from './output.js';
import { call, cli } from './client.js';

function pair(declared: number | undefined, detected: number | undefined): string {
  return `${declared ?? '-'}/${detected ?? '-'}`;
}

export function renderNodesTable(infos: NodeInfo[]): string {
  const head = ['NODE', 'ADDRESS', 'STATE', 'HOSTNAME', 'KERNEL', 'CORES', 'MEM MB', 'KVM', 'TOOLS'];
  const short = new Set<number>();
  const rows = infos.map((n, i) => {
    if (n.state !== 'up') {
      short.add(i);
      return [n.name, n.address, n.health ?? (n.state === 'down' ? 'unreachable' : 'error'), n.error?.split('\n')[0] ?? '', '', '', '', '', ''];
    }
    return [
      n.name,
      n.address,
      n.health ?? 'up',
      n.hostname ?? '-',
      n.kernel ?? '-',
      pair(n.declared?.cores, n.detected?.cores),
      pair(n.declared?.memMb, n.detected?.memMb),
      n.kvm ?? '-',
      n.missingTools && n.missingTools.length > 0 ? `missing ${n.missingTools.join(',')}` : 'all',
    ];
  });
  // An unreachable node's message is long: it is the last thing printed on its row.
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((_r, j) => !short.has(j) || i < 3).map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const body = rows.map((r, j) => (short.has(j) ? line([...r.slice(0, 3), r[3]!]) : line(r)));
  return [line(head), ...body, '', 'CORES and MEM MB are declared/detected.'].join('\n') + '\n';
}

export function registerNodes(program: Command): void {
  program
    .command('nodes')
    .description('the nodes of the current cluster: reachable, hostname, kernel, cores and memory (declared/detected), KVM, required tools')
    .option('--json', 'print as JSON')
    .option('--watch', 'follow each node\'s health (up, unreachable, down, maintenance, evacuating) as it changes, until Ctrl-C')
    .action(action(async (o: { json?: boolean; watch?: boolean }) => {
      if (o.watch) return watchHealth(Boolean(o.json));
      const infos = await call('nodes.list', {});
      if (o.json) printJson(infos);
      else process.stdout.write(renderNodesTable(infos));
      // A node that refused us (host key changed or unknown, login refused) is the admin's to act on: exit 6, as every command does.
      const refused = infos.find((n) => n.errorCode && EXIT[n.errorCode as keyof typeof EXIT] === EXIT['host-key-changed']);
      return refused ? EXIT['host-key-changed'] : 0;
    }));
}

export function renderHealthTable(nodes: NodeHealth[]): string {
  const head = ['NODE', 'HEALTH', 'PROBE', 'LEASE', 'WHY'];
  const rows = nodes.map((n) => [
    n.name,
    n.state,
    n.reachable ? `${n.latencyMs ?? '-'} ms` : 'no answer',
    n.leaseLeftS === undefined ? 'none' : n.leaseLeftS >= 0 ? `${n.leaseLeftS.toFixed(1)} s left` : `expired ${(-n.leaseLeftS).toFixed(1)} s ago`,
    n.reason + (n.evacuation?.failed?.length ? `; not moved: ${n.evacuation.failed.map((f) => `${f.vc}/${f.vm}`).join(', ')}` : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** Print the health table now and again at every change the health loop reports. */
async function watchHealth(json: boolean): Promise<number> {
  const client = await cli();
  const show = (nodes: NodeHealth[]) => {
    if (json) process.stdout.write(JSON.stringify({ at: new Date().toISOString(), nodes }) + '\n');
    else process.stdout.write(`\n${new Date().toISOString()}\n${renderHealthTable(nodes)}`);
  };
  client.on('nodes.health', (e) => show(e.nodes));
  show(await call('nodes.health', {}));
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  return 0;
}
