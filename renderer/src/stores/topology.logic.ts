import type { Mode, NodeInfo, VcInfo, VmInfo, VmState } from '../../../main/api/contract.js';

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

const fmtMb = (mb: number) => (mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GiB` : `${mb} MB`);

/**
 * What dropping these VMs on `to` would do, one line per VM, in the order given. Running VMs
 * are live-migrated (they keep running, no reboot); saved or stopped ones are relocated (they
 * will start or be restored there). Cores are checked for VCs placed with `strict` and memory
 * always, counting the VMs of this same drop that land on the node before each one.
 */
export function planMove(layout: Layout, keys: readonly VmKey[], to: string): MovePlan {
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
    if (lane.node.state !== 'up') { refuse(`node ${to} is ${lane.node.state}`); continue; }
    if (chip.node === to) { items.push({ ...base, action: 'none', says: `already on ${to}: nothing to do` }); continue; }

    let action: MoveAction;
    if (chip.state === 'running' || chip.state === 'paused') action = 'migrate';
    else if (chip.state === 'saved' || chip.state === 'stopped') action = 'relocate';
    else { refuse(`it is ${chip.state}; wait until it has settled`); continue; }

    const freeCores = lane.node.cores - coresUsed;
    const freeMem = lane.node.memMb - memUsed;
    if (chip.mode === 'strict' && chip.vcpus > freeCores) {
      refuse(`strict placement: ${to} has ${Math.max(0, freeCores)} of ${lane.node.cores} cores free, ${vc}/${vm} needs ${chip.vcpus}`);
      continue;
    }
    if (chip.memMb > freeMem) {
      refuse(`${to} has ${fmtMb(Math.max(0, freeMem))} of memory free, ${vc}/${vm} needs ${fmtMb(chip.memMb)}`);
      continue;
    }
    coresUsed += chip.vcpus;
    memUsed += chip.memMb;
    const from = chip.node ? ` from ${chip.node}` : '';
    items.push({
      ...base,
      action,
      says: action === 'migrate'
        ? `live migration${from} to ${to}: it keeps running, same address, no reboot`
        : `relocation${from} to ${to}: it is ${chip.state}, and will ${chip.state === 'saved' ? 'be restored' : 'start'} on ${to}`,
    });
  }
  return { to, items, moving: items.filter((i) => i.action === 'migrate' || i.action === 'relocate').length };
}

// ---------------------------------------------------------------- colours

/** 12 hues far enough apart to tell VCs apart at a glance; a VC keeps its colour across runs. */
export const VC_COLOURS = ['#2f6fdb', '#d9534f', '#2e9d5b', '#a05cc6', '#d98a1c', '#1b9aaa', '#c2487e', '#6b8e23', '#7a5c3e', '#4b5bd6', '#b5651d', '#3c8d8d'];

export function vcColour(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return VC_COLOURS[(h >>> 0) % VC_COLOURS.length]!;
}
