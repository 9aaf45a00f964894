import type { ClusterConfig } from '../config/clusters.js';
import type { LabStatus as LabModuleStatus, LabNodeStatus } from '../lab/index.js';
import type { NodeInfo as InspectedNode } from '../nodes/inspect.js';
import type { ImageMeta } from '../images/types.js';
import { storagePaths } from '../domain/storagePaths.js';
import { CLUSTER_NAME } from '../lab/layout.js';
import type { TaskSummary as RunnerTaskSummary } from '../tasks/types.js';
import type { ClusterInfo, ImageInfo, LabNode, LabStatus, NodeInfo, ServicesStatus, TaskSummary } from '../api/contract.js';

type NodeServiceView = NodeInfo['services'][number];
type NodeServicesRow = ServicesStatus['nodes'][number];

/**
 * How the service layer turns what the lower modules return into the contract's plain data:
 * one place per shape, so every face (CLI --json, the GUI) sees the same fields.
 */

export function clusterInfo(c: ClusterConfig, current: string | undefined): ClusterInfo {
  return {
    name: c.name,
    nodes: c.nodes.map((n) => ({ name: n.name, address: n.address })),
    user: c.user,
    port: c.port,
    ...(c.keyFile ? { keyFile: c.keyFile } : {}),
    lab: c.lab,
    current: c.name === current,
  };
}

export function labNodeView(n: LabNodeStatus): LabNode {
  return {
    name: n.name,
    address: n.address,
    // A node whose namespace is there but whose link or sshd is not has crashed (lab crash, or died).
    state: n.netns && n.link === 'up' && n.sshd ? 'up' : n.netns || n.link !== 'absent' ? 'crashed' : 'down',
    netns: n.netns,
    link: n.link,
    sshd: n.sshd,
    ...(n.pid !== undefined ? { pid: n.pid } : {}),
  };
}

export function labView(s: LabModuleStatus): LabStatus {
  return {
    up: s.state !== 'down',
    state: s.state,
    ...(s.state !== 'down' ? { cluster: CLUSTER_NAME } : {}),
    network: s.network,
    hostAddress: s.hostAddress,
    labDir: s.labDir,
    bridge: s.bridge,
    ...(s.cores !== undefined ? { cores: s.cores } : {}),
    ...(s.memMb !== undefined ? { memMb: s.memMb } : {}),
    nodes: s.nodes.map(labNodeView),
  };
}

/**
 * The cluster services of one node as the Topology lanes show them: the gateway (master on
 * the VIP holder, backup elsewhere), DHCP/DNS/TFTP, NTP (unknown while not synchronised) and
 * the NFS server. Nothing when the services were never deployed there or the node did not answer.
 */
export function nodeServicesView(s: NodeServicesRow | undefined): NodeServiceView[] {
  if (!s || !s.reachable || s.error) return [];
  const state = (name: string) => s.services.find((x) => x.service === name)?.state;
  const up = (name: string) => (state(name) === 'running' ? 'running' as const : 'stopped' as const);
  const out: NodeServiceView[] = [];
  if (s.deployed) {
    const keepalived = state('keepalived') === 'running';
    out.push(s.holdsVip
      ? { name: 'gateway', state: 'master', detail: `holds ${s.vip ?? 'the VIP'}${s.nat ? ', NAT on' : ', NAT off'}` }
      : keepalived ? { name: 'gateway', state: 'backup', detail: s.vrrp ? `VRRP ${s.vrrp}` : 'VRRP starting' } : { name: 'gateway', state: 'stopped' });
    out.push({ name: 'dhcp-dns', state: up('dnsmasq') });
  }
  if (state('chronyd') === 'running') {
    const ntp = s.ntp;
    out.push(ntp?.synced
      ? { name: 'ntp', state: 'running', detail: ntp.local ? `own clock, stratum ${ntp.stratum}` : `synced to ${ntp.source ?? '?'}` }
      : { name: 'ntp', state: 'unknown', detail: 'not synchronised' });
  } else if (s.deployed && state('chronyd') === 'stopped') out.push({ name: 'ntp', state: 'stopped' });
  if (state('ganesha') !== undefined && state('ganesha') !== 'absent') out.push({ name: 'nfs', state: up('ganesha') });
  return out;
}

export function nodeView(n: InspectedNode, inUse: string | undefined, services?: NodeServicesRow): NodeInfo {
  const kvm = n.kvm?.state;
  return {
    name: n.node,
    address: n.address,
    state: n.reachable && !n.error ? 'up' : n.reachable ? 'unknown' : 'down',
    // What placement may use is the declared capacity; fall back to what the node has.
    cores: n.declared?.cores ?? n.detected?.cores ?? 0,
    memMb: n.declared?.memMb ?? n.detected?.memMb ?? 0,
    services: [...(kvm ? [{ name: kvm === 'usable' ? 'kvm' : 'tcg', state: 'running' as const }] : []), ...nodeServicesView(services)],
    inUse: n.node === inUse,
    ...(n.error ? { error: n.error.message, errorCode: n.error.code } : {}),
    ...(n.hostname ? { hostname: n.hostname } : {}),
    ...(n.kernel ? { kernel: n.kernel } : {}),
    ...(n.declared?.cores !== undefined && n.declared.memMb !== undefined ? { declared: { cores: n.declared.cores, memMb: n.declared.memMb } } : {}),
    ...(n.detected?.cores !== undefined && n.detected.memMb !== undefined ? { detected: { cores: n.detected.cores, memMb: n.detected.memMb } } : {}),
    ...(kvm ? { kvm } : {}),
    ...(n.kvm?.reason ? { kvmReason: n.kvm.reason } : {}),
    ...(n.tools ? { tools: n.tools } : {}),
    ...(n.missingTools ? { missingTools: n.missingTools } : {}),
  };
}

/** An image on shared storage as every face lists it. */
export function imageView(name: string, meta: ImageMeta | undefined, problem?: string): ImageInfo {
  if (!meta) {
    return { name, path: storagePaths().image(name).disk, format: 'qcow2', allocatedBytes: 0, virtualBytes: 0, kernel: false, problem: problem ?? 'no metadata' };
  }
  return {
    name,
    path: storagePaths().image(name).disk,
    format: 'qcow2',
    allocatedBytes: meta.sizes.qcow2 + (meta.sizes.kernel ?? 0) + (meta.sizes.initrd ?? 0),
    virtualBytes: meta.sizes.qcow2Virtual,
    kernel: meta.kind === 'kernel',
    createdAt: meta.createdAt,
    guest: meta.guest,
    ...(meta.sizes.kernel !== undefined ? { kernelBytes: meta.sizes.kernel } : {}),
    ...(meta.sizes.initrd !== undefined ? { initrdBytes: meta.sizes.initrd } : {}),
  };
}

/** A task of the DB as the contract carries it (the runner's bookkeeping fields stay behind). */
export function taskView(t: RunnerTaskSummary): TaskSummary {
  return {
    id: t.id, kind: t.kind, target: t.target, state: t.state, progress: t.progress,
    ...(t.currentStep ? { currentStep: t.currentStep } : {}),
    ...(t.error ? { error: { code: t.error.code, message: t.error.message, ...(t.error.step ? { step: t.error.step } : {}), ...(t.error.hint ? { hint: t.error.hint } : {}) } } : {}),
    startedAt: t.startedAt, ...(t.endedAt ? { endedAt: t.endedAt } : {}),
    ...(t.interrupted ? { interrupted: true } : {}),
    ...(t.attempts !== undefined ? { attempts: t.attempts } : {}),
    ...(t.host ? { host: t.host } : {}),
    ...(t.cancelRequested ? { cancelRequested: true } : {}),
    ...(t.result ? { result: t.result } : {}),
    steps: t.steps.map((x) => ({ name: x.name, state: x.state, progress: x.progress, ...(x.note ? { note: x.note } : {}) })),
  };
}
