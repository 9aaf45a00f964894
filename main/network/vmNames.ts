import { checkName, isIPv4 } from '../util/names.js';
import { invalid } from '../errors.js';
import { sh } from '../util/quote.js';
import { servicePaths } from '../node-services/render.js';

/**
 * VM names in the cluster DNS: every node's dnsmasq reads a hosts directory (`hostsdir`,
 * re-read on change, no restart), and the network sync writes one file there from the DB:
 * `vm1.<vc>` and, with a cluster domain, `vm1.<vc>.<domain>` for every VM of every VC.
 */
export const HOSTS_DIR = servicePaths.hostsDir;
export const VM_HOSTS_FILE = `${HOSTS_DIR}/vms`;

export interface NamedVm {
  vc: string;
  name: string;
  ip: string;
}

const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** /etc/hosts format, sorted by VC then name, so an unchanged DB gives the same bytes. */
export function renderVmHosts(vms: readonly NamedVm[], domain?: string): string {
  if (domain !== undefined && !DOMAIN.test(domain)) throw invalid('services.dns.domain', 'must be a DNS domain of lowercase letters, digits, "-" and "."', domain);
  const lines = [...vms]
    .sort((a, b) => (a.vc === b.vc ? a.name.localeCompare(b.name, 'en', { numeric: true }) : a.vc < b.vc ? -1 : 1))
    .map((v) => {
      checkName('vc', v.vc, 'VC name');
      checkName('vm', v.name, 'VM name');
      if (!isIPv4(v.ip)) throw invalid('VM address', 'must be an IPv4 address', v.ip);
      const short = `${v.name}.${v.vc}`;
      return domain ? `${v.ip} ${short}.${domain} ${short}` : `${v.ip} ${short}`;
    });
  return ['# VirtuaLinux Manager: VM names, written by the network sync from the DB.', ...lines, ''].join('\n');
}

/** Shell: replace the file only when its content changed (dnsmasq re-reads it on the change). */
export function renderVmHostsScript(body: string): string {
  // Written beside the directory, not in it: dnsmasq reads every file there, and when a
  // temporary one goes it flushes that file's names from its cache, the same names `vms`
  // holds, so an unchanged sync would make every VM name unknown.
  const tmp = `${servicePaths.dir}/vm-hosts.new`;
  return [
    sh('mkdir', '-p', HOSTS_DIR),
    `printf '%s' ${sh(body)} > ${sh(tmp)}`,
    `if cmp -s ${sh(tmp)} ${sh(VM_HOSTS_FILE)}; then rm -f ${sh(tmp)}; else mv -f ${sh(tmp)} ${sh(VM_HOSTS_FILE)}; fi`,
    '',
  ].join('\n');
}
