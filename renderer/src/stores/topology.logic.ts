import { moveAction, moveRefusal, type Mode, type NodeInfo, type VcInfo, type VmInfo, type VmState } from '../../../main/api/contract.js';

export type VmKey = string;
export const vmKey = (vc: string, vm: string): VmKey => `${vc}/${vm}`;
export function splitKey(key: VmKey): { vc: string; vm: string } {
  const i = key.indexOf('/');
  return { vc: key.slice(0, i), vm: key.slice(i + 1) };
}

export interface Chip extends VmInfo {
  key: VmKey;
  vcpus: number;
  memMb: number;
  mode: Mode;
}

/** States in which a VM holds cores and memory on its node. */
export const HOLDS_RESOURCES: ReadonlySet<VmState> = new Set(['starting', 'running', 'paused', 'migrating', 'saving', 'stopping']);

export interface Lane {
  node: NodeInfo;
  chips: Chip[];
  coresUsed: number;
  memUsedMb: number;
}

export interface Layout {
  lanes: Lane[];
  /** VMs never placed, or placed on a node the cluster no longer lists */
  unplaced: Chip[];
  chips: Map<VmKey, Chip>;
}

/** Nodes become lanes, VMs chips on their lane; used cores and memory come from the VMs that hold them. */
export function layoutTopology(nodes: readonly NodeInfo[], vcs: readonly VcInfo[]): Layout {
  const lanes = new Map<string, Lane>();
  for (const n of nodes) lanes.set(n.name, { node: n, chips: [], coresUsed: 0, memUsedMb: 0 });
  const unplaced: Chip[] = [];
  const chips = new Map<VmKey, Chip>();
  for (const vc of vcs) {
    for (const vm of vc.vms) {
      const chip: Chip = { ...vm, key: vmKey(vc.name, vm.name), vcpus: vc.vcpus, memMb: vc.memMb, mode: vc.mode ?? 'strict' };
      chips.set(chip.key, chip);
      const lane = vm.node ? lanes.get(vm.node) : undefined;
      if (!lane) { unplaced.push(chip); continue; }
      lane.chips.push(chip);
      if (HOLDS_RESOURCES.has(vm.state)) {
        lane.coresUsed += vc.vcpus;
        lane.memUsedMb += vc.memMb;
      }
    }
  }
  return { lanes: [...lanes.values()], unplaced, chips };
}

// ---------------------------------------------------------------- selection

export interface Modifiers { toggle?: boolean; range?: boolean }

/**
 * Click: only this chip. Ctrl/Cmd-click: add or remove it. Shift-click: everything between
 * the last clicked chip and this one, in display order, added to the selection.
 */
export function selectChip(selection: readonly VmKey[], anchor: VmKey | undefined, key: VmKey, order: readonly VmKey[], mods: Modifiers = {}): { selection: VmKey[]; anchor: VmKey } {
  if (mods.range && anchor !== undefined) {
    const a = order.indexOf(anchor);
    const b = order.indexOf(key);
    if (a >= 0 && b >= 0) {
      const [lo, hi] = a < b ? [a, b] : [b, a];
      const merged = new Set([...selection, ...order.slice(lo, hi + 1)]);
      return { selection: order.filter((k) => merged.has(k)), anchor };
    }
  }
  if (mods.toggle) {
    return selection.includes(key)
      ? { selection: selection.filter((k) => k !== key), anchor: key }
      : { selection: [...selection, key], anchor: key };
  }
  return { selection: [key], anchor: key };
}

/** Dragging a selected chip drags the whole selection; dragging another drags it alone. */
export function dragSet(selection: readonly VmKey[], key: VmKey): VmKey[] {
  return selection.includes(key) ? [...selection] : [key];
}

// ---------------------------------------------------------------- what a move would do

export type MoveAction = 'migrate' | 'relocate' | 'none' | 'refuse';

export interface MovePlanItem {
  key: VmKey;
  vc: string;
  vm: string;
  from?: string;
  action: MoveAction;
  /** the sentence the confirmation shows */
  says: string;
}

export interface MovePlan {
  to: string;
  items: MovePlanItem[];
  /** how many will actually move */
  moving: number;
}

/**
 * What dropping these VMs on `to` would do, one line per VM, in the order given, by the
 * domain's own rules (the same the service and the workflow apply): `moveAction` decides
 * migrate, relocate or refuse from the VM's state; `moveRefusal` checks the target's room
 * (memory always, cores for `strict` VCs; `busy`: a live task acts on the VM), counting the VMs of this same drop that land on the
 * node before each one. The confirmation then asks the service (`vm.planMove`) before acting.
 */
export function planMove(layout: Layout, keys: readonly VmKey[], to: string, busy: (key: VmKey) => string | undefined = () => undefined): MovePlan {
  const lane = layout.lanes.find((l) => l.node.name === to);
  let coresUsed = lane?.coresUsed ?? 0;
  let memUsed = lane?.memUsedMb ?? 0;
  const items: MovePlanItem[] = [];
  for (const key of keys) {
    const chip = layout.chips.get(key);
    const { vc, vm } = splitKey(key);
    const base = { key, vc, vm, ...(chip?.node ? { from: chip.node } : {}) };
    const refuse = (why: string) => items.push({ ...base, action: 'refuse', says: `refused: ${why}` });
    if (!chip) { refuse('this VM is no longer listed'); continue; }
    if (!lane) { refuse(`node ${to} is not part of the cluster`); continue; }
    const decided = moveAction({ vc, vm, state: chip.state, node: chip.node ?? null, busy: busy(key) }, to);
    if (decided.action === 'none') { items.push({ ...base, action: 'none', says: `${decided.reason}: nothing to do` }); continue; }
    if (decided.action === 'refuse') { refuse(decided.reason); continue; }
    const room = moveRefusal({ name: `${vc}/${vm}`, vcpus: chip.vcpus, memMb: chip.memMb, node: chip.node ?? '' }, to, [{
      name: to, cores: lane.node.cores, memMb: lane.node.memMb, usedCores: coresUsed, usedMemMb: memUsed, alive: lane.node.state === 'up',
    }], chip.mode ?? 'strict');
    if (room) { refuse(room); continue; }
    coresUsed += chip.vcpus;
    memUsed += chip.memMb;
    items.push({ ...base, action: decided.action, says: decided.reason });
  }
  return { to, items, moving: items.filter((i) => i.action === 'migrate' || i.action === 'relocate').length };
}

// ---------------------------------------------------------------- colours

/** 12 hues far enough apart to tell VCs apart at a glance; a VC keeps its colour across runs. */
export const VC_COLOURS = ['#2f6fdb', '#d9534f', '#2e9d5b', '#a05cc6', '#d98a1c', '#1b9aaa', '#c2487e', '#6b8e23', '#7a5c3e', '#4b5bd6', '#b5651d', '#3c8d8d'];

function colourSlot(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return (h >>> 0) % VC_COLOURS.length;
}

/**
 * A VC's colour: its name's own slot of the palette, so it stays put as other VCs come and
 * go. Given every VC shown (`among`), two VCs never share a colour while the palette lasts:
 * in name order, one whose slot is taken gets the next free one.
 */
export function vcColour(name: string, among: readonly string[] = []): string {
  if (!among.includes(name)) return VC_COLOURS[colourSlot(name)]!;
  const taken = new Set<number>();
  for (const n of [...new Set(among)].sort()) {
    let slot = colourSlot(n);
    if (taken.size < VC_COLOURS.length) while (taken.has(slot)) slot = (slot + 1) % VC_COLOURS.length;
    if (n === name) return VC_COLOURS[slot]!;
    taken.add(slot);
  }
  return VC_COLOURS[colourSlot(name)]!;
}
