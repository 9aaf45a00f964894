import type { Command } from 'commander';
import type { ServicesStatus } from '../api/contract.js';
import { SERVICES } from '../node-services/scripts.js';
import { action, printJson } from './output.js';
import { call, runTask } from './client.js';

type NtpView = ServicesStatus['nodes'][number]['ntp'];

/** What a node's clock follows: a source, its own clock as the cluster's orphan root, or nothing. */
export function ntpCell(ntp: NtpView): string {
  if (!ntp) return '-';
  if (!ntp.synced) return 'unsynced';
  if (ntp.local) return `own clock (stratum ${ntp.stratum})`;
  return `synced to ${ntp.source ?? '?'}`;
}

/** Node × service table; the VIP holder's row is marked. Pure. */
export function renderServicesTable(s: ServicesStatus): string {
  const head = ['NODE', 'ADDRESS', ...SERVICES.map((x) => x.toUpperCase()), 'NTP', 'VRRP', 'GATEWAY'];
  const rows: string[][] = s.nodes.map((n) => {
    if (!n.reachable || n.error) return [n.node, n.address, n.reachable ? `error: ${n.error?.message ?? ''}` : 'unreachable'];
    const cells = SERVICES.map((svc) => {
      const st = n.services.find((x) => x.service === svc);
      if (!st) return '-';
      return st.state === 'running' ? `running ${st.pid ?? ''}`.trim() : st.state === 'absent' ? 'not installed' : 'stopped';
    });
    const gw = n.holdsVip ? `* holds ${n.vip ?? 'VIP'}${n.nat ? ' (NAT on)' : ' (NAT off)'}` : '';
    return [n.node, n.address, ...cells, n.services.some((x) => x.service === 'chronyd' && x.state === 'running') ? ntpCell(n.ntp) : '-', n.vrrp ?? '-', gw];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length === head.length).map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const holder = s.holders.length === 0
    ? `gateway VIP ${s.vip ?? '(not deployed)'}: held by no node`
    : s.holders.length === 1
      ? `gateway VIP ${s.vip}: held by ${s.holders[0]}`
      : `gateway VIP ${s.vip}: held by ${s.holders.length} nodes at once (${s.holders.join(', ')}): a split brain or a node killed without cleanup`;
  return [line(head), ...rows.map(line), '', holder].join('\n') + '\n';
}

export function registerServices(program: Command): void {
  const services = program.command('services').description('the master-less cluster services: DHCP, TFTP, DNS and NTP on every node, the gateway VIP on one');

  services.command('deploy')
    .description('configure and (re)start dnsmasq, keepalived, NFS-Ganesha (and chronyd where installed) on every live node, from the manifest (idempotent)')
    .option('--json', 'print the status after the deploy as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const { exitCode } = await runTask('services.deploy', {}, { json: Boolean(o.json) });
      if (exitCode !== 0) return exitCode;
      const s = await call('services.status', {});
      if (o.json) printJson(s);
      else process.stdout.write(renderServicesTable(s));
      return 0;
    }));

  services.command('status')
    .description('per node: which services run (with pid), what its clock follows, the VRRP state, and who holds the gateway VIP')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const s = await call('services.status', {});
      if (o.json) printJson(s);
      else process.stdout.write(renderServicesTable(s));
    }));

  services.command('stop')
    .description('stop the services on every reachable node and remove the VIP and NAT they hold')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const r = await call('services.stop', {});
      if (o.json) printJson(r);
      else for (const n of r) process.stdout.write(`${n.node}: ${n.error ? n.error.message : n.stopped.length > 0 ? `stopped ${n.stopped.join(', ')}` : 'nothing was running'}\n`);
    }));
}
