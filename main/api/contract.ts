import { z } from 'zod';
import { NAME_RULES } from '../util/names.js';
import { VC_LIMITS, type VcNumberField } from '../domain/vcSpec.js';
// The pure VC rules a form applies as the person types, the same the service applies: re-exported for the renderer.
export { VC_FORM_DEFAULTS, clusterErrors } from '../domain/vcSpec.js';
export { busyWith, moveAction } from '../domain/move.js';
// The name rules (a snapshot's tag as the person types it) for the renderer.
export { NAME_RULES } from '../util/names.js';
export { moveRefusal } from '../placement/place.js';
// The experiments' CSV and ratios: the CLI and every chart of the Experiments screen write the same text.
export { experimentsCsv, ratios, EXPERIMENT_KINDS, EXPERIMENT_SECONDS } from '../domain/experiments.js';
import { EXPERIMENT_KINDS, EXPERIMENT_SECONDS } from '../domain/experiments.js';
import type { SnapshotRec } from '../domain/snapshotPlan.js';
import { LAB_LIMITS } from '../domain/labLimits.js';
import type { TaskEvent as TaskEventType } from '../tasks/types.js';

/**
 * Over 400 lines on purpose: the whole surface between the app's main side and any face of it
 * (Electron renderer, browser bridge, the CLI, tests) is one table, read in one place: calls `domain.verb → {input, output}` and one table
 * of events. Both sides are typed from these tables and every input is validated where it
 * arrives. Only plain data crosses; long operations answer `{taskId}` at once and report
 * progress as `task` events.
 */

// ---------------------------------------------------------------- field rules

const named = (kind: keyof typeof NAME_RULES) =>
  z.string().regex(NAME_RULES[kind].re, { error: NAME_RULES[kind].rule });

export const NodeName = named('node');
export const ClusterName = named('cluster');
export const VcName = named('vc');
export const VmName = named('vm');
export const ImageName = named('image');

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const Address = z.string().refine((s) => IPV4.test(s) || HOSTNAME.test(s), { error: 'must be an IPv4 address or a host name' });
export const Cidr = z.string().refine((s) => {
  const [ip, len, ...rest] = s.split('/');
  return rest.length === 0 && IPV4.test(ip ?? '') && /^\d{1,2}$/.test(len ?? '') && Number(len) <= 32;
}, { error: 'must be "auto" or an IPv4 network like 10.200.7.0/24' });
const int = (min: number, max: number) =>
  z.number({ error: `must be a whole number from ${min} to ${max}` }).int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` }).max(max, { error: `must be a whole number from ${min} to ${max}` });
const UnixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'must be a Unix user name' });
// A key file path is passed to fs on the workstation, never to a shell; still refuse control characters.
const FilePath = z.string().min(1).max(4096).regex(/^\/[^\0\n\r]*$/, { error: 'must be an absolute path' });
const Id = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, { error: 'must be an id' });
const Iso = z.string();

export const Policy = z.enum(['block', 'cyclic']);
export const Mode = z.enum(['strict', 'free']);
export type Policy = z.infer<typeof Policy>;
export type Mode = z.infer<typeof Mode>;

// ---------------------------------------------------------------- shared shapes

const Empty = z.object({});
const TaskStarted = z.object({ taskId: Id });

export const ApiErrorShape = z.object({ code: z.string(), message: z.string(), hint: z.string().optional() });
export type ApiErrorShape = z.infer<typeof ApiErrorShape>;

export const ClusterInfo = z.object({
  name: z.string(),
  nodes: z.array(z.object({ name: z.string(), address: z.string() })),
  user: z.string(),
  port: z.number().int(),
  keyFile: z.string().optional(),
  lab: z.boolean(),
  current: z.boolean(),
});
export type ClusterInfo = z.infer<typeof ClusterInfo>;

export const HostKeyProbe = z.object({
  address: z.string(),
  port: z.number().int(),
  keyType: z.string(),
  /** OpenSSH style `SHA256:…`: what the person compares with `ssh-keygen -lf` on the node. */
  fingerprint: z.string(),
  /** new: never seen; known: matches what we remember; changed: another key than remembered (refused). */
  status: z.enum(['new', 'known', 'changed']),
});
export type HostKeyProbe = z.infer<typeof HostKeyProbe>;

export const LabNode = z.object({
  name: z.string(),
  address: z.string(),
  /** up: namespace, link and sshd; crashed: some of it is there (lab crash, or died); down: none */
  state: z.enum(['up', 'crashed', 'down']),
  netns: z.boolean(),
  link: z.enum(['up', 'down', 'absent']),
  sshd: z.boolean(),
  pid: z.number().int().optional(),
});
export type LabNode = z.infer<typeof LabNode>;
export const LabStatus = z.object({
  up: z.boolean(),
  /** up: every node up; degraded: some; down: no lab */
  state: z.enum(['up', 'down', 'degraded']),
  cluster: z.string().optional(),
  accel: z.enum(['kvm', 'tcg']).optional(),
  network: z.string(),
  hostAddress: z.string(),
  labDir: z.string(),
  bridge: z.boolean(),
  /** the capacity each node declares, as the running lab was built with */
  cores: z.number().int().optional(),
  memMb: z.number().int().optional(),
  nodes: z.array(LabNode),
});
export type LabStatus = z.infer<typeof LabStatus>;
export const LabMachine = z.object({
  name: z.string(),
  mac: z.string(),
  tap: z.string(),
  running: z.boolean(),
  pid: z.number().int().optional(),
  accel: z.enum(['kvm', 'tcg']),
  /** the machine's serial console, on this workstation */
  serialLog: z.string(),
  startedAt: z.string().optional(),
});
export type LabMachine = z.infer<typeof LabMachine>;
const Mac = z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, { error: 'must be a MAC address like 52:54:00:12:34:56' });

const Capacity = z.object({ cores: z.number().int(), memMb: z.number().int() });
export const NodeService = z.object({
  name: z.string(),
  /** master/backup for passively replicated services (the gateway VIP), running/stopped otherwise */
  state: z.enum(['running', 'stopped', 'master', 'backup', 'unknown']),
  /** what the state means here: the VIP held, the clock's source, why unknown */
  detail: z.string().optional(),
});
/** up; unreachable: no answer, but its lease still vouches for it; down: confirmed (lease expired + margin, or fenced). */
export const NodeHealthState = z.enum(['up', 'unreachable', 'down', 'maintenance', 'evacuating']);
export type NodeHealthState = z.infer<typeof NodeHealthState>;
export const NodeInfo = z.object({
  name: z.string(),
  address: z.string(),
  state: z.enum(['up', 'down', 'unknown']),
  /** declared capacity (manifest) */
  cores: z.number().int(),
  memMb: z.number().int(),
  services: z.array(NodeService),
  /** the node the app currently talks to */
  inUse: z.boolean(),
  error: z.string().optional(),
  /** what the node reports of itself (absent when it did not answer) */
  hostname: z.string().optional(),
  kernel: z.string().optional(),
  declared: Capacity.optional(),
  detected: Capacity.optional(),
  /** absent: no /dev/kvm; unverified: not probed yet */
  kvm: z.enum(['usable', 'unusable', 'absent', 'unverified']).optional(),
  kvmReason: z.string().optional(),
  /** the tools a node needs (README's node requirements), each present or not */
  tools: z.record(z.string(), z.boolean()).optional(),
  missingTools: z.array(z.string()).optional(),
  /** the error's code when it did not answer (unreachable, host-key-changed, …) */
  errorCode: z.string().optional(),
  /** the health loop's judgement (main/health): absent when the cluster has no database yet */
  health: NodeHealthState.optional(),
});
export type NodeInfo = z.infer<typeof NodeInfo>;

const EvacuationRecord = z.object({
  task: z.string().optional(),
  moved: z.array(z.object({ vc: z.string(), vm: z.string(), from: z.string(), to: z.string(), action: z.string().optional() })).optional(),
  /** the VMs the last evacuation could not move, each with why */
  failed: z.array(z.object({ vc: z.string(), vm: z.string(), reason: z.string() })).optional(),
});
export const NodeHealth = z.object({
  name: z.string(),
  state: NodeHealthState,
  reason: z.string(),
  admin: z.enum(['active', 'maintenance', 'evacuating']),
  reachable: z.boolean(),
  confirmedDown: z.boolean(),
  latencyMs: z.number().optional(),
  probeError: z.string().optional(),
  /** seconds its lease has left on the DB's clock (negative: expired that long ago) */
  leaseLeftS: z.number().optional(),
  renewedBy: z.string().optional(),
  since: Iso.optional(),
  evacuation: EvacuationRecord.optional(),
});
export type NodeHealth = z.infer<typeof NodeHealth>;
export const EvacuationMode = z.enum(['live', 'cold', 'stop']);
/** A running VM's way out when live migration is not to be had (main/placement/evacuate). */
export const EvacuationFallback = z.enum(['none', 'cold', 'stop']);
export const EvacuationStep = z.object({
  vc: z.string(),
  vm: z.string(),
  from: z.string(),
  to: z.string().optional(),
  action: z.enum(['live', 'cold', 'stop', 'remap', 'none', 'refuse']),
  reason: z.string(),
  /** a live step: what is done if its migration fails */
  fallback: z.enum(['cold', 'stop']).optional(),
});
export type EvacuationStep = z.infer<typeof EvacuationStep>;
export const EvacuationPlan = z.object({
  node: z.string(),
  mode: EvacuationMode,
  fallback: EvacuationFallback,
  steps: z.array(EvacuationStep),
  /** nothing refused */
  complete: z.boolean(),
});
export type EvacuationPlan = z.infer<typeof EvacuationPlan>;

export const ExecResultShape = z.object({
  node: z.string(),
  address: z.string().optional(),
  signal: z.string().optional(),
  code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  ms: z.number(),
  error: ApiErrorShape.optional(),
});

export const StepShape = z.object({
  name: z.string(),
  state: z.enum(['pending', 'running', 'done', 'failed', 'skipped']),
  progress: z.number(),
  note: z.string().optional(),
});
export const TaskSummaryShape = z.object({
  id: z.string(),
  kind: z.string(),
  target: z.string(),
  state: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  progress: z.number(),
  currentStep: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string(), step: z.string().optional(), hint: z.string().optional() }).optional(),
  startedAt: Iso,
  endedAt: Iso.optional(),
  /** stored as running, but no process runs it any more (killed): re-running the same operation resumes it */
  interrupted: z.boolean().optional(),
  /** how many times a process has run it (a resumed task has more than one) */
  attempts: z.number().int().optional(),
  /** the workstation that runs (or last ran) it */
  host: z.string().optional(),
  cancelRequested: z.boolean().optional(),
  /** what a finished task of this process produced (the lab removed, the database endpoint, an image built) */
  result: z.record(z.string(), z.unknown()).optional(),
  steps: z.array(StepShape),
});
export const TaskLogLine = z.object({ at: Iso, line: z.string() });
export const TaskEventShape = z.discriminatedUnion('type', [
  z.object({ type: z.literal('task'), task: TaskSummaryShape }),
  z.object({ type: z.literal('log'), taskId: z.string(), at: Iso, line: z.string() }),
]);

export const ImageInfo = z.object({
  name: z.string(),
  path: z.string(),
  format: z.string(),
  allocatedBytes: z.number(),
  virtualBytes: z.number(),
  kernel: z.boolean(),
  createdAt: Iso.optional(),
  /** how the guest is set up: tiny (kernel parameters), debian or cloud (NoCloud seed) */
  guest: z.string().optional(),
  /** kernel + initrd sizes of a kernel image */
  kernelBytes: z.number().optional(),
  initrdBytes: z.number().optional(),
  /** the image's files are there but its metadata cannot be read */
  problem: z.string().optional(),
});
export type ImageInfo = z.infer<typeof ImageInfo>;
export const ImageDetail = ImageInfo.extend({
  cmdline: z.string().optional(),
  template: z.object({ format: z.string(), actualBytes: z.number(), virtualBytes: z.number() }),
  /** volumes whose backing file is this image's template */
  usedBy: z.array(z.string()),
});
export type ImageDetail = z.infer<typeof ImageDetail>;

export const VmState = z.enum(['stopped', 'starting', 'running', 'paused', 'saving', 'saved', 'migrating', 'stopping', 'error', 'unknown']);
export type VmState = z.infer<typeof VmState>;
export const VcState = z.enum(['creating', 'stopped', 'starting', 'running', 'partial', 'stopping', 'saving', 'saved', 'restoring', 'destroying', 'error', 'unknown']);
export type VcState = z.infer<typeof VcState>;

export const VmInfo = z.object({
  name: z.string(),
  vc: z.string(),
  /** where it runs or was last placed; absent when never placed */
  node: z.string().optional(),
  state: VmState,
  address: z.string(),
  mac: z.string(),
  /** HA restart marks in effect (its own, else its VC's); absent on a database before migration 005 */
  ha: z.object({ on: z.boolean(), priority: z.number().int(), order: z.number().int(), own: z.boolean() }).optional(),
  /** what HA restart last did with it when its node was lost, and why (task log has the rest) */
  haNote: z.string().optional(),
});
export type VmInfo = z.infer<typeof VmInfo>;

export const VcInfo = z.object({
  name: z.string(),
  state: VcState,
  image: z.string(),
  vcpus: z.number().int(),
  memMb: z.number().int(),
  diskGb: z.number().int(),
  swapMb: z.number().int(),
  subnet: z.string(),
  policy: Policy.optional(),
  mode: Mode.optional(),
  createdAt: Iso.optional(),
  /** the VC's HA defaults for its VMs */
  ha: z.object({ on: z.boolean(), priority: z.number().int() }).optional(),
  vms: z.array(VmInfo),
});
export type VcInfo = z.infer<typeof VcInfo>;

export const VcDetail = VcInfo.extend({
  /** what is (QEMU processes, routes found on nodes) where it differs from what the DB says */
  drift: z.array(z.string()),
  /** VM → the nodes where its QEMU was found running */
  actual: z.record(z.string(), z.array(z.string())),
  tasks: z.array(TaskSummaryShape),
});
export type VcDetail = z.infer<typeof VcDetail>;

const vcInt = (f: VcNumberField) => int(VC_LIMITS[f].min, VC_LIMITS[f].max);
export const VcSpec = z.object({
  name: VcName,
  nodes: vcInt('nodes'),
  vcpus: vcInt('vcpus'),
  memMb: vcInt('memMb'),
  diskGb: vcInt('diskGb'),
  swapMb: vcInt('swapMb').default(0),
  image: ImageName,
  subnet: z.union([z.literal('auto'), Cidr]).default('auto'),
});
export type VcSpec = z.infer<typeof VcSpec>;

/** Without a policy or mode, the VC's last ones (block/strict for a new VC). */
// Experiments (main/domain/experiments.ts): the report's measurements, one value per row.
const ExperimentKindShape = z.enum(EXPERIMENT_KINDS, { error: `must be one of ${EXPERIMENT_KINDS.join(', ')}` });
export const ExperimentRunInfo = z.object({
  id: z.number().int(), taskId: z.string().nullable(), kind: ExperimentKindShape, vc: z.string(), vcSize: z.number().int(),
  placement: z.record(z.string(), z.string()), accel: z.enum(['kvm', 'tcg']), image: z.string(), seconds: z.number().int(),
  startedAt: z.string(), values: z.number().int(),
});
export const ExperimentRowShape = z.object({
  runId: z.number().int(), kind: ExperimentKindShape, probe: z.string(), target: z.string(), param: z.string(), value: z.number(), unit: z.string(),
  vc: z.string(), vcSize: z.number().int(), placement: z.string(), accel: z.enum(['kvm', 'tcg']), image: z.string(), date: z.string(),
});
export type ExperimentRunInfo = z.output<typeof ExperimentRunInfo>;
export type ExperimentRow = z.output<typeof ExperimentRowShape>;
const RunIds = z.array(z.number({ error: 'must be run ids (whole numbers)' }).int({ error: 'must be run ids (whole numbers)' }).min(1)).min(1, { error: 'give at least one run id' }).max(100);

export const VcControl = z.object({ name: VcName, policy: Policy.optional(), mode: Mode.optional() });
/** boot "cold": every VM boots in full even where its image has a warm-start template (main/vm/warmStart.ts). */
export const VcStart = VcControl.extend({ boot: z.enum(['warm', 'cold']).optional() });

export const Placement = z.object({
  placeable: z.boolean(),
  mapping: z.array(z.object({ vm: z.string(), node: z.string() })),
  /** why it cannot be placed (the shortfall named), when placeable is false */
  reason: z.string().optional(),
});
export type Placement = z.infer<typeof Placement>;

export const VmRef = z.object({ vc: VcName, vm: VmName });
export type VmRef = z.infer<typeof VmRef>;
export const MoveResult = z.object({
  vc: z.string(),
  vm: z.string(),
  ok: z.boolean(),
  /** what the move does: live migration for a running VM, relocation for a saved/stopped one */
  action: z.enum(['migrate', 'relocate', 'none']).optional(),
  taskId: z.string().optional(),
  error: ApiErrorShape.optional(),
});
export type MoveResult = z.infer<typeof MoveResult>;
/** What dropping a VM on a node would do, decided by the service from the VM's real state. */
export const MovePlan = z.object({
  vc: z.string(),
  vm: z.string(),
  from: z.string().optional(),
  action: z.enum(['migrate', 'relocate', 'none', 'refuse']),
  /** why it is refused, or what will happen, in words */
  reason: z.string(),
});
export type MovePlan = z.infer<typeof MovePlan>;

export const DbMember = z.object({
  node: z.string(),
  host: z.string(),
  role: z.enum(['primary', 'sync_standby', 'standby', 'other', 'unreachable']),
  state: z.string(),
  patroniRole: z.string().optional(),
  timeline: z.number().int().optional(),
  lagBytes: z.number().int().nonnegative().optional(),
});
export type DbMember = z.infer<typeof DbMember>;
export const DbSwitchover = z.object({ from: z.string(), to: z.string(), ms: z.number().int().nonnegative() });
export const DbStatus = z.object({
  cluster: z.string(),
  endpoint: z.object({ node: z.string(), host: z.string(), port: z.number().int(), database: z.string(), user: z.string() }),
  reachable: z.boolean(),
  error: ApiErrorShape.optional(),
  version: z.string().optional(),
  /** the connection is TLS with the pinned server certificate */
  tls: z.boolean().optional(),
  migrations: z.object({ applied: z.array(z.string()), pending: z.array(z.string()), unknown: z.array(z.string()) }).optional(),
  /** The member that is primary now, as the members say (absent: none is). */
  primary: z.string().optional(),
  /** Every member as its Patroni sees it: role, state, timeline, replay lag. */
  members: z.array(DbMember).optional(),
  /** etcd, whose quorum holds the leader key: without quorum no member stays writable. */
  etcd: z.object({
    members: z.array(z.object({ node: z.string(), host: z.string(), healthy: z.boolean(), leader: z.boolean(), error: z.string().optional() })),
    leader: z.string().optional(),
    quorum: z.boolean(),
  }).optional(),
});
export type DbStatus = z.infer<typeof DbStatus>;

const ServiceState = z.object({
  service: z.string(),
  state: z.enum(['running', 'stopped', 'absent']),
  pid: z.number().int().optional(),
});
export const ServicesStatus = z.object({
  vip: z.string().optional(),
  /** nodes that hold the gateway VIP: one, or a split brain */
  holders: z.array(z.string()),
  /** nodes that hold the storage address and serve disk-less roots: one, none during a take-over */
  storageHolders: z.array(z.string()).optional(),
  /** nodes that hold the gateway's public address (with a public side): one, none during a take-over */
  publicHolders: z.array(z.string()).optional(),
  nodes: z.array(z.object({
    node: z.string(),
    address: z.string(),
    reachable: z.boolean(),
    error: ApiErrorShape.optional(),
    deployed: z.boolean(),
    services: z.array(ServiceState),
    vrrp: z.string().optional(),
    holdsVip: z.boolean().optional(),
    vip: z.string().optional(),
    nat: z.boolean().optional(),
    storage: z.object({ vip: z.string(), holds: z.boolean(), pid: z.number().int().optional() }).optional(),
    public: z.object({ address: z.string(), holds: z.boolean() }).optional(),
    /** what chronyd follows: a source, its own clock (the orphan root), or nothing (not synced) */
    ntp: z.object({ synced: z.boolean(), source: z.string().optional(), local: z.boolean(), stratum: z.number().int() }).optional(),
  })),
});
export type ServicesStatus = z.infer<typeof ServicesStatus>;

export interface VolumeNodeT {
  path: string;
  /** snapshot: a VC snapshot's frozen file of one VM; overlay: the file a VM with snapshots writes to now */
  kind: 'image' | 'original' | 'node-root' | 'vm-disk' | 'swap' | 'state' | 'snapshot' | 'overlay' | 'other';
  format: string;
  allocatedBytes: number;
  virtualBytes: number;
  /** the VM (vc/vm) or node that uses it */
  usedBy?: string;
  canReset: boolean;
  canDelete: boolean;
  /** For snapshot files and overlays: the VC and VM, and the snapshot's tag (an overlay's: the snapshot it runs on). */
  vc?: string;
  vm?: string;
  tag?: string;
  /** A snapshot the VC runs on now, or an overlay a VM writes to now. */
  current?: boolean;
  children: VolumeNodeT[];
}
export const VolumeNode: z.ZodType<VolumeNodeT> = z.object({
  path: z.string(),
  kind: z.enum(['image', 'original', 'node-root', 'vm-disk', 'swap', 'state', 'snapshot', 'overlay', 'other']),
  format: z.string(),
  allocatedBytes: z.number(),
  virtualBytes: z.number(),
  usedBy: z.string().optional(),
  canReset: z.boolean(),
  canDelete: z.boolean(),
  vc: z.string().optional(),
  vm: z.string().optional(),
  tag: z.string().optional(),
  current: z.boolean().optional(),
  get children() { return z.array(VolumeNode); },
});

export const SnapshotTag = named('tag');
const SnapshotDiskShape = z.object({ vm: z.string(), disk: z.string(), overlay: z.string(), stateFile: z.string().nullable(), bytes: z.number().nullable() });
/** A snapshot as stored (domain/snapshotPlan.ts), placed in its VC's tree. */
export interface SnapshotNodeT extends SnapshotRec {
  /** The VC runs on this snapshot now. */
  current: boolean;
  children: SnapshotNodeT[];
}
export const SnapshotNode: z.ZodType<SnapshotNodeT> = z.object({
  tag: z.string(),
  parent: z.string().nullable(),
  state: z.enum(['taking', 'ready', 'deleting']),
  withMemory: z.boolean(),
  wasRunning: z.boolean(),
  pauseMs: z.number().nullable(),
  createdAt: z.string(),
  current: z.boolean(),
  disks: z.array(SnapshotDiskShape),
  get children() { return z.array(SnapshotNode); },
});
/** A VC's snapshot tree, the snapshot it runs on, and the file each VM writes to. */
export const SnapshotList = z.object({
  vc: z.string(),
  head: z.string().nullable(),
  heads: z.array(z.object({ vm: z.string(), disk: z.string(), onTag: z.string().nullable() })),
  tree: z.array(SnapshotNode),
});
export type SnapshotList = z.infer<typeof SnapshotList>;
// Volumes are addressed by their path on shared storage; the service checks it stays inside.
const VolumePath = z.string().regex(/^\/[A-Za-z0-9._/-]+$/, { error: 'must be a volume path on shared storage' }).refine((p) => !p.split('/').includes('..'), { error: 'must not contain ".."' });

const TermSize = { rows: int(2, 500), cols: int(10, 1000) };
const labInt = (f: keyof typeof LAB_LIMITS) => int(LAB_LIMITS[f].min, LAB_LIMITS[f].max);

const InstallSource = z.object({
  /** The config as YAML text (errors then carry line and column), or as an object. */
  yaml: z.string().max(1 << 20).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
}).refine((i) => (i.yaml === undefined) !== (i.config === undefined), { error: 'give exactly one of yaml or config' });
const PlannedNodeShape = z.object({ ordinal: z.number().int(), hostname: z.string(), mac: z.string(), bootIp: z.string(), storageIp: z.string(), exportName: z.string() });
export const InstallCheck = z.object({
  ok: z.boolean(),
  errors: z.array(z.object({ path: z.string(), rule: z.string(), line: z.number().int().optional(), col: z.number().int().optional() })),
  /** Every value the install will use, defaults filled in (when ok). */
  config: z.record(z.string(), z.unknown()).optional(),
  derived: z.object({ bootNetwork: z.string(), storageNetwork: z.string(), storageIp: z.string(), spare: z.string(), primary: z.string(), backup: z.string() }).optional(),
  nodes: z.array(PlannedNodeShape).optional(),
  /** Facts of the cluster the config was checked against (absent when not asked or unreachable). */
  facts: z.object({ freeMb: z.number().optional(), containersInUse: z.array(z.string()), note: z.string().optional() }).optional(),
});
export type InstallCheck = z.infer<typeof InstallCheck>;
export const InstallStatus = z.object({
  installed: z.boolean(),
  container: z.string().optional(),
  sharedRoot: z.string().optional(),
  storageIp: z.string().optional(),
  nodes: z.array(z.object({ ordinal: z.number().int(), hostname: z.string(), mac: z.string(), ip: z.string(), export: z.string() })),
});
export type InstallStatus = z.infer<typeof InstallStatus>;

// ---------------------------------------------------------------- the call table

export const contract = {
  'app.info': { input: Empty, output: z.object({
    version: z.string(), face: z.enum(['electron', 'web', 'test', 'cli']), cluster: z.string().optional(), nodeInUse: z.string().optional(), home: z.string(),
    /** the physical network of the current cluster, which no VC subnet may overlap */
    clusterNetwork: z.string().optional(),
  }) },

  'clusters.list': { input: Empty, output: z.object({ current: z.string().optional(), clusters: z.array(ClusterInfo) }) },
  /** Nothing is saved unless the first node answers and lets us in; every other node is checked too. */
  'clusters.add': { input: z.object({
    name: ClusterName, address: Address, port: int(1, 65535).default(22), user: UnixUser.default('root'), keyFile: FilePath.optional(),
    /** make it the current cluster (the first cluster added always becomes current) */
    use: z.boolean().default(false),
  }), output: ClusterInfo.extend({
    fromManifest: z.boolean(),
    checked: z.array(z.object({ node: z.string(), address: z.string(), ok: z.boolean(), error: ApiErrorShape.optional() })),
  }) },
  'clusters.use': { input: z.object({ name: ClusterName }), output: Empty },
  'clusters.remove': { input: z.object({ name: ClusterName }), output: Empty },

  'hostKey.probe': { input: z.object({ address: Address, port: int(1, 65535) }), output: HostKeyProbe },
  'hostKey.accept': { input: z.object({ address: Address, port: int(1, 65535), fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, { error: 'must be a SHA256 fingerprint' }) }), output: Empty },

  'lab.up': { input: z.object({
    nodes: labInt('nodes').optional(), cores: labInt('cores').optional(), memMb: labInt('memMb').optional(),
  }), output: TaskStarted },
  'lab.status': { input: Empty, output: LabStatus },
  'lab.down': { input: z.object({ purge: z.boolean().default(false) }), output: TaskStarted },
  'lab.crash': { input: z.object({ node: NodeName }), output: LabNode },
  'lab.revive': { input: z.object({ node: NodeName }), output: LabNode },

  'nodes.list': { input: Empty, output: z.array(NodeInfo) },
  /** 'any': one live node runs it (the one used last, if it still answers). */
  'exec.run': { input: z.object({
    nodes: z.union([z.literal('all'), z.literal('any'), z.array(NodeName).min(1).max(1024)]), command: z.string().min(1).max(65536),
    timeoutS: int(1, 86_400).optional(),
  }), output: z.array(ExecResultShape) },

  'db.status': { input: Empty, output: DbStatus },
  'db.migrate': { input: Empty, output: z.object({ applied: z.array(z.string()) }) },
  /** `node` is the one-member case of `nodes` (exactly one of them). */
  'db.deploy': { input: z.object({
    node: NodeName.optional(), nodes: z.array(NodeName).min(1).max(64).optional(), port: int(1, 65535).default(5432), allow: z.array(Cidr).max(64).optional(),
  }), output: TaskStarted },
  /** Patroni moves the primary to `to` (a running standby); returns once the app writes there. */
  'db.switchover': { input: z.object({ to: NodeName }), output: DbSwitchover },

  'services.status': { input: Empty, output: ServicesStatus },
  'services.deploy': { input: Empty, output: TaskStarted },
  'services.stop': { input: Empty, output: z.array(z.object({ node: z.string(), reachable: z.boolean(), error: ApiErrorShape.optional(), stopped: z.array(z.string()) })) },

  /** all: every task; otherwise the unfinished ones and the latest `limit` */
  'tasks.list': { input: z.object({ limit: int(1, 1000).optional(), all: z.boolean().optional() }), output: z.array(TaskSummaryShape) },
  'tasks.get': { input: z.object({ id: Id, logLines: int(0, 10_000).optional() }), output: z.object({ task: TaskSummaryShape, log: z.array(TaskLogLine) }) },
  'tasks.cancel': { input: z.object({ id: Id }), output: TaskSummaryShape },
  /** Run an interrupted or failed VC task again from its first unfinished step, from any workstation. */
  'tasks.resume': { input: z.object({ id: Id }), output: TaskStarted },

  'images.list': { input: Empty, output: z.array(ImageInfo) },
  'images.info': { input: z.object({ name: ImageName }), output: ImageDetail },
  'images.build': { input: z.object({ kind: z.enum(['tiny', 'tiny-bench', 'debian-12', 'debian-12-node']), name: ImageName.optional(), localOnly: z.boolean().optional() }), output: TaskStarted },
  /** a standalone qcow2 on this workstation (a cloud image that reads a NoCloud seed) becomes a template */
  'images.import': { input: z.object({ file: FilePath, name: ImageName }), output: TaskStarted },

  'vc.list': { input: Empty, output: z.array(VcInfo) },
  'vc.get': { input: z.object({ name: VcName }), output: VcDetail },
  'vc.create': { input: VcSpec, output: TaskStarted },
  'vc.start': { input: VcStart, output: TaskStarted },
  /** timeoutS: how long the guests get to shut down cleanly before a hard stop */
  'vc.stop': { input: z.object({ name: VcName, timeoutS: int(0, 3600).default(30) }), output: TaskStarted },
  'vc.save': { input: z.object({ name: VcName }), output: TaskStarted },
  'vc.restore': { input: VcControl, output: TaskStarted },
  'vc.destroy': { input: z.object({ name: VcName }), output: TaskStarted },
  /**
   * HA restart marks: without vm, the VC's default (on/off, priority) for its VMs; with vm, that
   * VM's own (on/off, priority, start order within the VC). Answers the marks now in effect.
   */
  'vc.setHa': { input: z.object({
    name: VcName, on: z.boolean(), vm: VmName.optional(), priority: int(-1000, 1000).optional(), order: int(0, 1000).optional(),
  }).refine((i) => i.order === undefined || i.vm !== undefined, { error: 'order: is a start order within the VC, per VM: name the VM', path: ['order'] }), output: VcInfo },
  'vc.previewPlacement': { input: z.object({
    name: VcName, nodes: vcInt('nodes'), vcpus: vcInt('vcpus'), memMb: vcInt('memMb'), policy: Policy, mode: Mode,
  }), output: Placement },

  /** What moving each VM to the node would do (live migration, relocation, or a refusal with the reason); changes nothing. */
  'vm.planMove': { input: z.object({ vms: z.array(VmRef).min(1).max(1024), to: NodeName }), output: z.array(MovePlan) },
  'vm.move': { input: z.object({ vms: z.array(VmRef).min(1).max(1024), to: NodeName }), output: z.array(MoveResult) },

  'volumes.tree': { input: Empty, output: z.array(VolumeNode) },
  'volumes.reset': { input: z.object({ path: VolumePath }), output: Empty },
  'volumes.delete': { input: z.object({ path: VolumePath }), output: Empty },

  // VC-wide snapshots (issue 12): one instant for every VM of a VC; a tree of tags; rollback; merge on delete.
  'snapshots.list': { input: z.object({ vc: VcName }), output: SnapshotList },
  /** withMemory: also each VM's RAM (a running VC); a rollback then resumes where it was */
  'snapshots.take': { input: z.object({ vc: VcName, tag: SnapshotTag, withMemory: z.boolean().default(false) }), output: TaskStarted },
  'snapshots.rollback': { input: z.object({ vc: VcName, tag: SnapshotTag }), output: TaskStarted },
  'snapshots.delete': { input: z.object({ vc: VcName, tag: SnapshotTag }), output: TaskStarted },

  /** node: where the shell or the VM's serial console is */
  'terminal.openNodeShell': { input: z.object({ node: NodeName, ...TermSize }), output: z.object({ sessionId: Id, title: z.string(), node: z.string().optional() }) },
  'terminal.openVmConsole': { input: z.object({ vc: VcName, vm: VmName, ...TermSize }), output: z.object({ sessionId: Id, title: z.string(), node: z.string().optional() }) },
  'terminal.write': { input: z.object({ sessionId: Id, data: z.string().max(1 << 20) }), output: Empty },
  'terminal.resize': { input: z.object({ sessionId: Id, ...TermSize }), output: Empty },
  /** The face has drawn this many more characters of the console's output (flow control: see consoles/terminals FLOW_HIGH). */
  'terminal.ack': { input: z.object({ sessionId: Id, chars: int(1, 1 << 30) }), output: Empty },
  /** Reopen a console that ended (connection lost, VM restarted); same session id, its output resumes. */
  'terminal.reconnect': { input: z.object({ sessionId: Id }), output: Empty },
  'terminal.close': { input: z.object({ sessionId: Id }), output: Empty },

  // Disk-less machines of the lab: QEMU with no disk booting from the network (lab/machines).
  /** mac: default derived from the name, so a machine powered on again is the same machine to DHCP */
  'lab.powerOn': { input: z.object({ name: NodeName, mac: Mac.optional() }), output: LabMachine },
  'lab.powerOff': { input: z.object({ name: NodeName }), output: LabMachine },
  'lab.machines': { input: Empty, output: z.array(LabMachine) },

  // Node health, evacuation and maintenance (main/health, main/placement/evacuate).
  /** Every node's health from this process's health loop (started by this call while a face listens to events). */
  'nodes.health': { input: Empty, output: z.array(NodeHealth) },
  /** What evacuating the node would do, VM by VM; changes nothing. */
  'node.evacuatePlan': { input: z.object({ node: NodeName, mode: EvacuationMode.default('live'), fallback: EvacuationFallback.default('none') }), output: EvacuationPlan },
  /** fallback: what to do with a running VM whose live migration fails (cold: stop here, start there), or that fits nowhere (stop). */
  'node.evacuate': { input: z.object({ node: NodeName, mode: EvacuationMode.default('live'), fallback: EvacuationFallback.default('none') }), output: TaskStarted },
  /** Brings back the VMs the last evacuation moved away (live where they run) and ends maintenance. */
  'node.restore': { input: z.object({ node: NodeName }), output: TaskStarted },
  'node.setMaintenance': { input: z.object({ node: NodeName, on: z.boolean() }), output: NodeHealth },

  // ------------------------------------------------------------ install and restore (disk-less cluster)
  // The config's own rules are domain/installConfig: these channels carry it as YAML text or as
  // an object and answer its errors as data (field path, rule, line), so the wizard shows them as you type.

  /** cluster: also check against the cluster (free space, containers and addresses in use). */
  'install.validate': { input: InstallSource.extend({ cluster: z.boolean().default(true) }), output: InstallCheck },
  /** A commented config that installs 3 disk-less nodes onto the running lab as it is; config: the same as an object (the wizard's starting values). */
  'install.example': { input: Empty, output: z.object({ yaml: z.string(), config: z.record(z.string(), z.unknown()) }) },
  'install.run': { input: InstallSource, output: TaskStarted },
  /** The installation recorded in the manifest (what the Restore dialog offers). */
  'install.status': { input: z.object({ manifest: FilePath.optional() }), output: InstallStatus },
  /**
   * MACs seen asking for an address on the boot network (the DHCP log of `node`, default the
   * node in use) since `cursor`, in order, without the `known` ones. Without a cursor: none,
   * and the cursor of the log's end (start watching now). Poll it with the cursor it answers.
   */
  'install.macs': { input: z.object({
    node: NodeName.optional(), cursor: z.number().int().min(0).max(2 ** 48).optional(), known: z.array(z.string().max(64)).max(1024).default([]),
  }), output: z.object({ node: z.string(), cursor: z.number(), restarted: z.boolean(), macs: z.array(z.string()) }) },
  /** MACs from a CSV file's text (ordinal,mac[,hostname]) or typed by hand; every bad line or word is an error. */
  'install.parseMacs': { input: z.object({
    csv: z.string().max(1 << 20).optional(), text: z.string().max(1 << 20).optional(), known: z.array(z.string().max(64)).max(1024).default([]),
  }).refine((i) => (i.csv === undefined) !== (i.text === undefined), { error: 'give exactly one of csv or text' }), output: z.object({
    entries: z.array(z.object({ ordinal: z.number().int(), mac: z.string(), hostname: z.string().optional() })),
    errors: z.array(z.object({ line: z.number().int().optional(), index: z.number().int().optional(), text: z.string().optional(), rule: z.string() })),
  }) },
  /** Destructive actions need confirm = the container's name (the typed confirmation); force: even under running nodes. */
  'restore.run': { input: z.object({
    action: z.enum(['rebuild-config', 'reset-all', 'reset-node']),
    node: int(1, 250).optional(),
    formatShared: z.boolean().default(false),
    force: z.boolean().default(false),
    manifest: FilePath.optional(),
    confirm: z.string().max(64).optional(),
  }).refine((i) => (i.action === 'reset-node') === (i.node !== undefined), { error: 'node: give it with reset-node, and only then', path: ['node'] }), output: TaskStarted },
  /** The original becomes a copy of `image` (default: the config's base image, rebuilt with the change), then every root is reset. */
  'install.updateOriginal': { input: z.object({ image: ImageName.optional(), force: z.boolean().default(false), confirm: z.string().max(64).optional() }), output: TaskStarted },

  // ------------------------------------------------------------ experiments (the report's measurements)
  /** A run on a running VC: probes for `seconds` each; outside: the peer of the VM↔outside pair (network). */
  'experiments.run': { input: z.object({
    kind: ExperimentKindShape, vc: VcName, seconds: int(EXPERIMENT_SECONDS.min, EXPERIMENT_SECONDS.max).default(EXPERIMENT_SECONDS.default), outside: Address.optional(),
  }), output: TaskStarted },
  'experiments.list': { input: z.object({ kind: ExperimentKindShape.optional(), limit: int(1, 1000).optional() }), output: z.array(ExperimentRunInfo) },
  'experiments.show': { input: z.object({ id: int(1, 2 ** 31 - 1) }), output: z.object({ run: ExperimentRunInfo, rows: z.array(ExperimentRowShape) }) },
  /** Every value of these runs (several runs of one kind plot on one chart). */
  'experiments.rows': { input: z.object({ ids: RunIds }), output: z.array(ExperimentRowShape) },
  'experiments.export': { input: z.object({ ids: RunIds }), output: z.object({ csv: z.string() }) },
} as const;

// ---------------------------------------------------------------- the event table

export const events = {
  task: TaskEventShape,
  'terminal.data': z.object({ sessionId: z.string(), data: z.string() }),
  /** reason is printed in the terminal: "connection lost", "exited with code 0", "closed by you" */
  'terminal.exit': z.object({ sessionId: z.string(), reason: z.string(), code: z.number().int().optional(), lost: z.boolean() }),
  /** something the screens show changed; they refetch what they hold of it */
  'state.changed': z.object({ what: z.enum(['clusters', 'lab', 'nodes', 'vcs', 'images', 'volumes', 'experiments']) }),
  /** a node's health changed (this process's loop saw it): every node's view */
  'nodes.health': z.object({ nodes: z.array(NodeHealth) }),
} as const;

// ---------------------------------------------------------------- types from the tables

export type Contract = typeof contract;
export type Channel = keyof Contract;
export type Input<C extends Channel> = z.input<Contract[C]['input']>;
export type Output<C extends Channel> = z.output<Contract[C]['output']>;
export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ApiErrorShape };

export const CHANNELS = Object.keys(contract).sort() as Channel[];
export const EVENT_NAMES = Object.keys(events).sort() as EventName[];

export function isChannel(s: unknown): s is Channel {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(contract, s);
}
export function isEventName(s: unknown): s is EventName {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(events, s);
}

// The event schema must describe exactly the TaskEvent the task runner emits.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const taskEventMatches: Same<z.output<typeof TaskEventShape>, TaskEventType> = true;
void taskEventMatches;

export type TaskSummary = z.output<typeof TaskSummaryShape>;
export type TaskEvent = z.output<typeof TaskEventShape>;
export type ExecResultInfo = z.output<typeof ExecResultShape>;
