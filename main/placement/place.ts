import { VlxError, invalid } from '../errors.js';

/**
 * Which node runs which VM (the report's VC mapping, section 5.3). Pure and deterministic:
 * the same inputs give the same mapping, and a refusal names what is short.
 *
 * - `block` fills nodes in the order given: each VM goes to the first live node where it
 *   fits, so a VC spreads over as few nodes as possible.
 * - `cyclic` deals VMs round-robin over the live nodes in the order given, skipping a node
 *   where the VM does not fit, so a VC spreads over as many nodes as possible.
 * - `strict` never lets the vCPUs on a node exceed its cores; `free` ignores cores
 *   altogether, so `block`+`free` keeps filling the first node for as long as memory lasts.
 * - Memory is always checked and dead nodes are never chosen.
 */
export type Policy = 'block' | 'cyclic';
export type Mode = 'strict' | 'free';

export interface PlaceVm {
  name: string;
  vcpus: number;
  memMb: number;
}

export interface PlaceNode {
  name: string;
  cores: number;
  memMb: number;
  /** vCPUs and memory already given to running or placed VMs. */
  usedCores: number;
  usedMemMb: number;
  alive: boolean;
}

export interface PlaceOptions {
  /** VMs that must go to a given node (e.g. a restore keeping part of its mapping). */
  pinned?: Readonly<Record<string, string>>;
}

export interface Placement {
  mapping: Record<string, string>;
}

export interface NodeLoad {
  name: string;
  alive: boolean;
  cores: number;
  memMb: number;
  /** After the placement. */
  usedCores: number;
  usedMemMb: number;
  /** VMs this placement adds to the node, in placement order. */
  added: string[];
  overcommitted: boolean;
}

export type PlacementPreview =
  | { ok: true; mapping: Record<string, string>; load: NodeLoad[] }
  | { ok: false; error: string; load: NodeLoad[] };

/** At most this many nodes are listed in a message; the rest become "…". */
const LISTED = 8;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function list(items: string[]): string {
  return items.length <= LISTED ? items.join(', ') : `${items.slice(0, LISTED).join(', ')}, …`;
}

interface Free { node: PlaceNode; cores: number; memMb: number }

const freeCores = (f: Free) => Math.max(0, f.cores);

function checkInputs(vms: readonly PlaceVm[], nodes: readonly PlaceNode[]): void {
  const posInt = (v: number, field: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw invalid(field, `must be a whole number of at least ${min}`, v);
  };
  const vmNames = new Set<string>();
  for (const vm of vms) {
    if (typeof vm.name !== 'string' || vm.name === '') throw invalid('VM name', 'must be a non-empty string', vm.name);
    if (vmNames.has(vm.name)) throw invalid('VM name', 'must be unique', vm.name);
    vmNames.add(vm.name);
    posInt(vm.vcpus, `vcpus of ${vm.name}`, 1);
    posInt(vm.memMb, `memory of ${vm.name}`, 1);
  }
  const nodeNames = new Set<string>();
  for (const n of nodes) {
    if (typeof n.name !== 'string' || n.name === '') throw invalid('node name', 'must be a non-empty string', n.name);
    if (nodeNames.has(n.name)) throw invalid('node name', 'must be unique', n.name);
    nodeNames.add(n.name);
    posInt(n.cores, `cores of ${n.name}`, 1);
    posInt(n.memMb, `memory of ${n.name}`, 1);
    posInt(n.usedCores, `used cores of ${n.name}`, 0);
    posInt(n.usedMemMb, `used memory of ${n.name}`, 0);
  }
}

function fits(f: Free, vm: PlaceVm, mode: Mode): boolean {
  return vm.memMb <= f.memMb && (mode === 'free' || vm.vcpus <= f.cores);
}

function take(f: Free, vm: PlaceVm): void {
  f.cores -= vm.vcpus;
  f.memMb -= vm.memMb;
}

function downSuffix(nodes: readonly PlaceNode[]): string {
  const down = nodes.filter((n) => !n.alive).map((n) => n.name);
  if (down.length === 0) return '';
  return down.length === 1 ? `; ${down[0]} is down` : `; down: ${list(down)}`;
}

/** Why `vm` fits on no live node, naming the resource that is short. */
function shortfall(vm: PlaceVm, live: Free[], mode: Mode, nodes: readonly PlaceNode[]): string {
  const mostMem = live.reduce((a, b) => (b.memMb > a.memMb ? b : a));
  if (mostMem.memMb < vm.memMb) {
    return `placement: ${vm.name} needs ${vm.memMb} MB of memory; the largest free memory on a live node is ` +
      `${Math.max(0, mostMem.memMb)} MB (${mostMem.node.name})${downSuffix(nodes)}`;
  }
  const mostCores = Math.max(...live.map(freeCores));
  if (mostCores < vm.vcpus) {
    return `strict placement: ${vm.name} needs ${plural(vm.vcpus, 'free core')} on one node; the most on a live node is ` +
      `${mostCores} (${list(live.map((f) => `${f.node.name}: ${freeCores(f)}`))})${downSuffix(nodes)}`;
  }
  return `strict placement: no live node has both ${plural(vm.vcpus, 'free core')} and ${vm.memMb} MB of free memory ` +
    `for ${vm.name} (${list(live.map((f) => `${f.node.name}: ${plural(freeCores(f), 'core')}, ${Math.max(0, f.memMb)} MB`))})` +
    downSuffix(nodes);
}

/** Map every VM to a live node, or throw VlxError('placement') naming the shortfall. */
export function place(
  vms: readonly PlaceVm[],
  nodes: readonly PlaceNode[],
  policy: Policy,
  mode: Mode,
  opts: PlaceOptions = {},
): Placement {
  if (policy !== 'block' && policy !== 'cyclic') throw invalid('policy', 'must be block or cyclic', policy);
  if (mode !== 'strict' && mode !== 'free') throw invalid('mode', 'must be strict or free', mode);
  checkInputs(vms, nodes);
  const mapping: Record<string, string> = {};
  if (vms.length === 0) return { mapping };

  const free: Free[] = nodes.map((node) => ({ node, cores: node.cores - node.usedCores, memMb: node.memMb - node.usedMemMb }));
  const live = free.filter((f) => f.node.alive);
  if (live.length === 0) {
    throw new VlxError('placement', `placement: no live node to place ${plural(vms.length, 'VM')} on${downSuffix(nodes)}`);
  }

  const pinned = opts.pinned ?? {};
  const byName = new Map(vms.map((vm) => [vm.name, vm]));
  for (const [vmName, nodeName] of Object.entries(pinned)) {
    const vm = byName.get(vmName);
    if (!vm) throw invalid('pinned VM', 'must be one of the VMs being placed', vmName);
    const f = free.find((x) => x.node.name === nodeName);
    if (!f) throw new VlxError('placement', `placement: ${vmName} is pinned to ${nodeName}, which is not a node of this cluster`);
    if (!f.node.alive) throw new VlxError('placement', `placement: ${vmName} is pinned to ${nodeName}, which is down`);
    if (vm.memMb > f.memMb) {
      throw new VlxError('placement',
        `placement: ${vmName} is pinned to ${nodeName}, which has ${Math.max(0, f.memMb)} MB of free memory; it needs ${vm.memMb} MB`);
    }
    if (mode === 'strict' && vm.vcpus > f.cores) {
      throw new VlxError('placement',
        `strict placement: ${vmName} is pinned to ${nodeName}, which has ${plural(freeCores(f), 'free core')}; it needs ${vm.vcpus}`);
    }
    take(f, vm);
    mapping[vmName] = nodeName;
  }

  const rest = vms.filter((vm) => !(vm.name in pinned));
  if (rest.length === 0) return { mapping };

  // Totals first: when the whole VC cannot fit, say so rather than blame one VM.
  if (mode === 'strict') {
    const need = rest.reduce((s, vm) => s + vm.vcpus, 0);
    const have = live.reduce((s, f) => s + freeCores(f), 0);
    if (need > have) {
      throw new VlxError('placement',
        `strict placement needs ${plural(need, 'free core')} for ${plural(rest.length, 'VM')}; only ${have} free ` +
        `(${list(live.map((f) => `${f.node.name}: ${freeCores(f)}`))})${downSuffix(nodes)}`,
        'use --mode free to over-commit cores, stop another VC, or give the VMs fewer vCPUs');
    }
  }
  const needMem = rest.reduce((s, vm) => s + vm.memMb, 0);
  const haveMem = live.reduce((s, f) => s + Math.max(0, f.memMb), 0);
  if (needMem > haveMem) {
    throw new VlxError('placement',
      `placement needs ${needMem} MB of memory for ${plural(rest.length, 'VM')}; only ${haveMem} MB free ` +
      `(${list(live.map((f) => `${f.node.name}: ${Math.max(0, f.memMb)} MB`))})${downSuffix(nodes)}`,
      'stop another VC or give the VMs less memory');
  }

  let next = 0;
  for (const vm of rest) {
    let chosen = -1;
    if (policy === 'block') {
      chosen = live.findIndex((f) => fits(f, vm, mode));
    } else {
      for (let k = 0; k < live.length; k++) {
        const i = (next + k) % live.length;
        if (fits(live[i], vm, mode)) { chosen = i; break; }
      }
      if (chosen >= 0) next = chosen + 1;
    }
    if (chosen < 0) throw new VlxError('placement', shortfall(vm, live, mode, nodes));
    take(live[chosen], vm);
    mapping[vm.name] = live[chosen].node.name;
  }
  return { mapping };
}

/** Per-node load once `mapping` is applied on top of the nodes' current use. */
export function nodeLoad(
  vms: readonly PlaceVm[],
  nodes: readonly PlaceNode[],
  mapping: Readonly<Record<string, string>>,
): NodeLoad[] {
  const load = nodes.map((n) => ({
    name: n.name, alive: n.alive, cores: n.cores, memMb: n.memMb,
    usedCores: n.usedCores, usedMemMb: n.usedMemMb, added: [] as string[], overcommitted: false,
  }));
  const byNode = new Map(load.map((l) => [l.name, l]));
  for (const vm of vms) {
    const target = mapping[vm.name];
    if (target === undefined) continue;
    const l = byNode.get(target);
    if (!l) throw invalid('mapping', `maps ${vm.name} to a node that is not given`, target);
    l.usedCores += vm.vcpus;
    l.usedMemMb += vm.memMb;
    l.added.push(vm.name);
  }
  for (const l of load) l.overcommitted = l.usedCores > l.cores || l.usedMemMb > l.memMb;
  return load;
}

/**
 * What the GUI shows before a start or restore: the mapping and each node's load after it,
 * or the refusal and the load as it is. Never throws for a placement refusal.
 */
export function previewPlacement(
  vms: readonly PlaceVm[],
  nodes: readonly PlaceNode[],
  policy: Policy,
  mode: Mode,
  opts: PlaceOptions = {},
): PlacementPreview {
  try {
    const { mapping } = place(vms, nodes, policy, mode, opts);
    return { ok: true, mapping, load: nodeLoad(vms, nodes, mapping) };
  } catch (e) {
    if (e instanceof VlxError && e.code === 'placement') return { ok: false, error: e.message, load: nodeLoad(vms, nodes, {}) };
    throw e;
  }
}

export interface MovingVm extends PlaceVm {
  /** The node it is on now; its resources are counted in that node's use. */
  node: string;
}

/**
 * Why `vm` may not move to `target` (dragging one VM in the topology), or null if it may.
 * The VM's own use is on its current node, so only the target's free room matters.
 */
export function moveRefusal(vm: MovingVm, target: string, nodes: readonly PlaceNode[], mode: Mode): string | null {
  const prefix = `cannot move ${vm.name} to ${target}`;
  const n = nodes.find((x) => x.name === target);
  if (!n) return `${prefix}: ${target} is not a node of this cluster`;
  if (vm.node === target) return `${prefix}: it already runs there`;
  if (!n.alive) return `${prefix}: ${target} is down`;
  const freeMem = n.memMb - n.usedMemMb;
  if (vm.memMb > freeMem) return `${prefix}: ${target} has ${Math.max(0, freeMem)} MB of free memory; ${vm.name} needs ${vm.memMb} MB`;
  const cores = Math.max(0, n.cores - n.usedCores);
  if (mode === 'strict' && vm.vcpus > cores) {
    return `${prefix}: strict mode and ${target} has ${plural(cores, 'free core')}; ${vm.name} needs ${vm.vcpus}`;
  }
  return null;
}

/** Throwing form of `moveRefusal`, for workflows. */
export function checkMove(vm: MovingVm, target: string, nodes: readonly PlaceNode[], mode: Mode): void {
  const why = moveRefusal(vm, target, nodes, mode);
  if (why !== null) throw new VlxError('placement', why);
}
