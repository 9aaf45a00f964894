import { createRoot } from 'react-dom/client';
import '../renderer/src/styles.css';
import { CHANNELS, type NodeInfo, type VcInfo, type VmInfo } from '../main/api/contract.js';
import { createDispatch } from '../main/api/dispatch.js';
import { EventHub } from '../main/api/events.js';
import { memoryTransport } from '../main/api/memory.js';
import type { ServiceMethods } from '../main/api/methods.js';
import { VlxError } from '../main/errors.js';
import { setTransport } from '../renderer/src/api.js';
import { useTopology } from '../renderer/src/stores/topology.js';
import { TopologyScreen } from '../renderer/src/screens/Topology.js';

/**
 * The benchmark page: the real Topology screen and its real store, fed synthetic state of
 * the size the issue names (64 nodes, 1,000 VMs). Only the data is made up; everything that
 * renders it and reacts to a drag is the app's own code.
 */
const params = new URLSearchParams(location.search);
const NODES = Number(params.get('nodes') ?? 64);
const VMS = Number(params.get('vms') ?? 1000);

function synthetic(): { nodes: NodeInfo[]; vcs: VcInfo[] } {
  const nodes: NodeInfo[] = Array.from({ length: NODES }, (_, i) => ({
    name: `n${i + 1}`, address: `10.77.0.${i + 1}`, state: i === NODES - 1 ? 'down' : 'up', cores: 32, memMb: 131072,
    services: [
      { name: 'dhcp', state: 'running' }, { name: 'tftp', state: 'running' }, { name: 'ntp', state: 'running' }, { name: 'dns', state: 'running' },
      { name: 'gateway', state: i === 0 ? 'master' : 'backup' }, ...(i < 2 ? [{ name: 'postgres', state: i === 0 ? 'master' as const : 'backup' as const }] : []),
    ],
    inUse: i === 0,
  }));
  const perVc = 25;
  const vcs: VcInfo[] = [];
  for (let v = 0; v * perVc < VMS; v++) {
    const name = `vc${String(v + 1).padStart(2, '0')}`;
    const vms: VmInfo[] = [];
    for (let k = 0; k < perVc && v * perVc + k < VMS; k++) {
      const idx = v * perVc + k;
      const state: VmInfo['state'] = idx % 17 === 0 ? 'saved' : idx % 23 === 0 ? 'stopped' : 'running';
      vms.push({ name: `vm${k + 1}`, vc: name, node: `n${(idx % (NODES - 1)) + 1}`, state, address: `10.200.${v}.${k + 2}`, mac: `52:54:00:00:${v.toString(16).padStart(2, '0')}:${k.toString(16).padStart(2, '0')}` });
    }
    vcs.push({ name, state: 'running', image: 'tiny', vcpus: 1, memMb: 512, diskGb: 2, swapMb: 0, subnet: `10.200.${v}.0/24`, vms, policy: 'cyclic', mode: 'strict' });
  }
  return { nodes, vcs };
}

const data = synthetic();
const hub = new EventHub();
const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `benchmark page: ${c} is not part of it`); }])) as unknown as ServiceMethods;
methods['nodes.list'] = async () => data.nodes;
methods['vc.list'] = async () => data.vcs;
setTransport(memoryTransport(createDispatch({ methods, events: hub, close: async () => {} }), hub));

const frame = () => new Promise<number>((r) => requestAnimationFrame(() => r(performance.now())));

declare global { interface Window { bench: Record<string, () => Promise<unknown>> } }

window.bench = {
  /** From handing the state to the store to the first painted frame with every chip in the DOM. */
  async firstRender() {
    useTopology.getState().setData(data.nodes, data.vcs);
    const t0 = performance.now();
    createRoot(document.getElementById('root')!).render(<main className="content" style={{ height: '100vh' }}><TopologyScreen /></main>);
    // Done when the lanes on screen show their chips. Lanes learn it from one IntersectionObserver
    // delivery, so the first ready lane means all visible ones are; polling must not force layout.
    let lanesAt = 0;
    while (!document.querySelector('.lane[data-ready] .chip')) {
      if (!lanesAt && document.querySelector('.lane')) lanesAt = performance.now() - t0;
      await frame();
    }
    const committed = performance.now();
    const t1 = await frame();
    return { ms: t1 - t0, commitMs: committed - t0, lanesMs: lanesAt, chips: document.querySelectorAll('.chip').length, lanes: document.querySelectorAll('.lane').length };
  },
  /**
   * A drag of 50 selected chips across every lane, one lane per frame, through real DOM drag
   * events: the time from the event to the end of style and layout of that frame's update.
   */
  async drag() {
    const chips = [...document.querySelectorAll<HTMLElement>('.chip')].slice(0, 50);
    const s = useTopology.getState();
    chips.forEach((c, i) => s.select(c.dataset.vm!, { toggle: i > 0 }));
    await frame();
    const dt = new DataTransfer();
    chips[0]!.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: dt }));
    await frame();
    const lanes = [...document.querySelectorAll<HTMLElement>('.lane[data-node]')];
    const times: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const lane of lanes) {
        const t0 = performance.now();
        lane.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
        void document.body.offsetHeight; // style + layout of the update, as the frame would pay it
        times.push(performance.now() - t0);
        await frame();
      }
    }
    const target = lanes[3]!;
    const t0 = performance.now();
    target.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
    void document.body.offsetHeight;
    const dropMs = performance.now() - t0;
    await frame();
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
    return { frames: times.length, medianMs: q(0.5), p95Ms: q(0.95), maxMs: times[times.length - 1], dropMs, dialog: !!document.querySelector('.dialog') };
  },
};
