import { cpioNewc, type CpioEntry } from '../images/cpio.js';
import { CONFIG_DIR, nodeConfigFiles, type HostKeys } from '../domain/nodeConfig.js';
import { renderBootScript, renderNodeEntry, tftpLayout } from '../domain/bootFiles.js';
import type { InstallPlan, PlannedNode } from '../domain/installConfig.js';
import type { FileToWrite } from './scripts.js';

/**
 * The TFTP files of an installation as bytes: the common boot script, one iPXE entry and
 * one configuration archive per node. The archive is reproducible (cpio.ts: fixed mtimes,
 * sorted), so regenerating it from the same manifest and keys gives the same bytes and a
 * re-run writes nothing.
 */
export function tftpRootOf(sharedRoot: string): string {
  return `${sharedRoot}/tftp`;
}

export function nodeConfigArchive(plan: InstallPlan, n: PlannedNode, keys: HostKeys): Buffer {
  const entries: CpioEntry[] = [{ type: 'dir', path: CONFIG_DIR, mode: 0o755 }];
  for (const f of nodeConfigFiles(plan, n, keys)) {
    entries.push({ type: 'file', path: `${CONFIG_DIR}/${f.path}`, data: Buffer.from(f.text, 'utf8'), mode: f.mode });
  }
  // root/.ssh must be 0700 or sshd ignores authorized_keys.
  entries.push({ type: 'dir', path: `${CONFIG_DIR}/root`, mode: 0o700 }, { type: 'dir', path: `${CONFIG_DIR}/root/.ssh`, mode: 0o700 });
  return cpioNewc(entries);
}

export function configFiles(plan: InstallPlan, keys: Map<number, HostKeys>, only?: number[]): FileToWrite[] {
  const root = tftpRootOf(plan.config.sharedRoot);
  const t = tftpLayout(plan.config.container);
  return plan.nodes.filter((n) => !only || only.includes(n.ordinal)).map((n) => {
    const k = keys.get(n.ordinal);
    if (!k) throw new Error(`no host keys for node ${n.ordinal}`);
    return { path: `${root}/${t.nodeConfig(n.ordinal)}`, data: nodeConfigArchive(plan, n, k), mode: 0o644 };
  });
}

export function bootEntryFiles(plan: InstallPlan, imageCmdline?: string): FileToWrite[] {
  const root = tftpRootOf(plan.config.sharedRoot);
  const t = tftpLayout(plan.config.container);
  return [
    { path: `${root}/${t.bootScript}`, data: Buffer.from(renderBootScript()) },
    ...plan.nodes.map((n) => ({ path: `${root}/${t.nodeEntry(n.mac)}`, data: Buffer.from(renderNodeEntry(plan, n, imageCmdline)) })),
  ];
}
