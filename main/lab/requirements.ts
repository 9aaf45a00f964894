import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/**
 * What the lab needs on this machine, tool by tool, and the Debian package that ships it.
 * `lab` tools build the lab itself; `node` tools are what a cluster node needs to run the
 * workflows (the lab's nodes share this machine's binaries), so a fresh lab is usable.
 */
export interface Requirement {
  tool: string;
  pkg: string;
  for: 'lab' | 'node';
  why: string;
}

export const REQUIREMENTS: readonly Requirement[] = [
  { tool: 'ip', pkg: 'iproute2', for: 'lab', why: 'namespaces, veths, the bridge' },
  { tool: 'unshare', pkg: 'util-linux', for: 'lab', why: 'a UTS + mount namespace per node' },
  { tool: 'nsenter', pkg: 'util-linux', for: 'lab', why: 'entering a node' },
  { tool: 'mount', pkg: 'mount', for: 'lab', why: 'private and shared directories per node' },
  { tool: 'sshd', pkg: 'openssh-server', for: 'lab', why: 'one sshd per node' },
  { tool: 'ssh-keygen', pkg: 'openssh-client', for: 'lab', why: 'lab and host keys' },
  { tool: 'ssh', pkg: 'openssh-client', for: 'lab', why: 'reaching nodes by hand' },
  { tool: 'qemu-system-x86_64', pkg: 'qemu-system-x86', for: 'node', why: 'virtual machines' },
  { tool: 'qemu-img', pkg: 'qemu-utils', for: 'node', why: 'copy-on-write volumes' },
  { tool: 'nft', pkg: 'nftables', for: 'node', why: 'VC insulation and NAT' },
  { tool: 'dnsmasq', pkg: 'dnsmasq-base', for: 'node', why: 'replicated DHCP/TFTP/DNS' },
  { tool: 'keepalived', pkg: 'keepalived', for: 'node', why: 'the gateway address take-over' },
  { tool: 'socat', pkg: 'socat', for: 'node', why: 'unix socket relays' },
];

// sbin dirs are listed explicitly: a non-login root shell may not have them on PATH.
const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findTool(tool: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  const dirs = [...pathEnv.split(':').filter((d) => d.startsWith('/')), ...SEARCH_DIRS];
  for (const d of dirs) {
    const f = join(d, tool);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** The packages to install so that every requirement is met (each package once, in table order). */
export function missingPackages(isPresent: (tool: string) => boolean, reqs: readonly Requirement[] = REQUIREMENTS): string[] {
  const pkgs: string[] = [];
  for (const r of reqs) if (!isPresent(r.tool) && !pkgs.includes(r.pkg)) pkgs.push(r.pkg);
  return pkgs;
}
