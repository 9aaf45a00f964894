import { memo, useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent as RKeyboardEvent, type MouseEvent as RMouseEvent } from 'react';
import { useTopology, type MoveState } from '../stores/topology.js';
import { useEvacuation } from '../stores/evacuation.js';
import { chipTransit, TRANSIT_STATES, type TaskBrief } from '../stores/topology.status.logic.js';
import { DbRoleBadge, DragRefusal, EvacuateDialog, EvacuationProgress, TransitBadge } from './TopologyParts.js';
import { useTasks } from '../stores/tasks.js';
import { useConsoles } from '../stores/consoles.js';
import { useApp } from '../stores/app.js';
import { vcColour, type Chip, type Lane } from '../stores/topology.logic.js';
import { Badge, Dialog, Empty, ErrorState, Loading, Progress, UsageBar } from '../components/common.js';
import { execOn } from '../actions/nodes.js';
import { runAction } from '../actions/index.js';

interface Menu { x: number; y: number; kind: 'vm'; key: string; node?: string } 
interface NodeMenu { x: number; y: number; kind: 'node'; node: string }
type AnyMenu = Menu | NodeMenu;

export function TopologyScreen() {
  const { nodes, vcs, layout, error, vcsError, loading, load, selection, clearSelection, plan } = useTopology();
  const [menu, setMenu] = useState<AnyMenu | undefined>();
  const loadDb = useTopology((s) => s.loadDb);
  useEffect(() => { void load(); void loadDb(); }, [load, loadDb]);
  // The lanes carry the cluster services' state (VIP holder, NTP, NFS, the DB members' roles), which changes with no app event: poll while open.
  useEffect(() => {
    const t = setInterval(() => {
      const s = useTopology.getState();
      if (!s.loading) void load();
      void loadDb();
      // A VM in a transit state: whether a live task (of any workstation) explains it decides its badge and the drag.
      if ([...s.layout.chips.values()].some((c) => TRANSIT_STATES.has(c.state))) void useTasks.getState().load();
    }, 5000);
    return () => clearInterval(t);
  }, [load, loadDb]);

  const vcNames = (vcs ?? []).map((v) => v.name);
  return (
    <div className="screen screen-topology" onClick={() => setMenu(undefined)}>
      <header className="screen-head row-between">
        <div>
          <h1>Topology</h1>
          <p className="lead">Every node as a lane, every VM as a chip. Drag chips onto another node to move them; Ctrl-click or Shift-click to select several. On a focused chip, press M for “Move to…”. Drag a lane's header onto another lane to evacuate that node.</p>
        </div>
        <div className="toolbar">
          {selection.length > 0 && <span className="sel-count">{selection.length} selected</span>}
          {selection.length > 0 && <button className="btn" onClick={(e) => { e.stopPropagation(); const r = (e.target as HTMLElement).getBoundingClientRect(); setMenu({ x: r.left, y: r.bottom + 4, kind: 'vm', key: selection[0]! }); }}>Move to…</button>}
          {selection.length > 0 && <button className="btn ghost" onClick={clearSelection}>Clear selection</button>}
          <button className="btn" onClick={() => void load()} disabled={loading}>{loading ? 'Refreshing…' : 'Refresh'}</button>
        </div>
      </header>
      {vcNames.length > 0 && (
        <div className="legend" aria-label="Virtual clusters">
          {vcNames.map((n) => <span key={n} className="legend-item"><span className="swatch" style={{ background: vcColour(n, vcNames) }} />{n}</span>)}
        </div>
      )}
      {error && !nodes ? <ErrorState error={error} what="the topology" onRetry={load} />
        : !nodes ? <Loading what="nodes and VMs" />
        : nodes.length === 0 ? <Empty title="No nodes">This cluster lists no nodes. Check the cluster on the Connect screen.</Empty>
        : (
          <div className="lanes" role="list">
            {vcsError && <div className="notice warn" role="status"><strong>VMs are not shown:</strong> {vcsError.message}</div>}
            {layout.lanes.map((lane, i) => <LaneView key={lane.node.name} lane={lane} onMenu={setMenu} eager={i < EAGER_LANES} />)}
            {layout.unplaced.length > 0 && (
              <div className="lane lane-unplaced" role="listitem">
                <div className="lane-head"><div className="lane-name">Not placed</div><div className="muted small">stopped: placed when their VC starts</div></div>
                <UnplacedChips chips={layout.unplaced} onMenu={setMenu} />
              </div>
            )}
            {!vcsError && vcs && vcs.length === 0 && <div className="muted pad">No virtual clusters yet: create one on the Virtual clusters screen.</div>}
          </div>
        )}
      <DragRefusal />
      {menu && <ContextMenu menu={menu} close={() => setMenu(undefined)} />}
      {plan && <MoveDialog />}
      <EvacuateDialog />
    </div>
  );
}

/** Lanes drawn with their chips at once; a 1280×800 window shows about this many. */
const EAGER_LANES = 8;

const LaneView = memo(function LaneView({ lane, onMenu, eager }: { lane: Lane; onMenu: (m: AnyMenu) => void; eager: boolean }) {
  const name = lane.node.name;
  // Only what changes the lane's look is subscribed to; actions are read when used, so a
  // thousand chips do not each hold a subscription per action.
  const isOver = useTopology((s) => s.over === name && !!s.dragging);
  // One subscription per lane, not per chip: the joined keys keep the value comparable.
  const selectedHere = useTopology((s) => (s.selection.length === 0 ? '' : lane.chips.filter((c) => s.selection.includes(c.key)).map((c) => c.key).join('\n')));
  const moves = useTopology((s) => s.moves);
  const tasks = useRunningTasks();
  const evacOver = useEvacuation((s) => s.over === name && !!s.dragging && s.dragging !== name);
  const selected = new Set(selectedHere ? selectedHere.split('\n') : []);
  const [ref, near] = useNearViewport<HTMLDivElement>(eager);
  const n = lane.node;
  const onDragOver = (e: DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    if (useEvacuation.getState().dragging) useEvacuation.getState().dragOver(name);
    else useTopology.getState().dragOver(name);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    // A lane dropped on another lane: evacuate the dragged one (placement picks the targets, the plan shows them).
    const lane = useEvacuation.getState().dragging;
    if (lane) { if (lane !== name) void useEvacuation.getState().open(lane); else useEvacuation.getState().endDrag(); return; }
    useTopology.getState().proposeMove(name);
  };
  const openConsole = (t: Parameters<ReturnType<typeof useConsoles.getState>['open']>[0]) => { void useConsoles.getState().open(t); useApp.getState().go('consoles'); };
  return (
    <div ref={ref} className={`lane lane-${n.state}${isOver ? ' lane-over' : ''}${evacOver ? ' lane-over lane-evac-over' : ''}`} role="listitem" aria-label={`node ${name}`} data-node={name} data-ready={near ? '' : undefined}
      onDragOver={onDragOver} onDragEnter={onDragOver} onDrop={onDrop}>
      <div className="lane-head" draggable data-lane-handle={name} onDoubleClick={() => openConsole({ kind: 'node', node: name })}
        onDragStart={(e) => { e.dataTransfer.setData('application/x-vlx-node', name); e.dataTransfer.effectAllowed = 'move'; useEvacuation.getState().startDrag(name); }}
        onDragEnd={() => useEvacuation.getState().endDrag()}
        onContextMenu={(e) => { e.preventDefault(); e.stopPropagation(); onMenu({ x: e.clientX, y: e.clientY, kind: 'node', node: name }); }}
        title="Double-click for a shell on this node; drag onto another lane to evacuate it">
        <div className="lane-title">
          <span className={`dot dot-${n.state}`} aria-hidden="true" />
          <span className="lane-name">{name}</span>
          <span className="mono muted small">{n.address}</span>
          {n.inUse && <Badge state="info">in use</Badge>}
          <DbRoleBadge node={name} />
          {(n.health ?? n.state) !== 'up' && <Badge state={n.health === 'maintenance' || n.health === 'evacuating' ? 'info' : 'bad'}>{n.health ?? n.state}</Badge>}
        </div>
        <UsageBar label="cores" used={lane.coresUsed} total={n.cores} unit="" />
        <UsageBar label="memory" used={lane.memUsedMb} total={n.memMb} unit="MB" />
        <div className="services">
          {n.services.map((s) => <span key={s.name} className={`svc svc-${s.state}`} title={`${s.name}: ${s.state}`}>{s.name}{s.state === 'master' ? ' ★' : ''}</span>)}
          {n.services.length === 0 && <span className="muted small">no services reported</span>}
        </div>
        <EvacuationProgress node={name} />
      </div>
      {near ? (
        <div className="lane-chips">
          {lane.chips.map((c) => <ChipView key={c.key} chip={c} onMenu={onMenu} selected={selected.has(c.key)} move={moves[c.key]} tasks={tasks} />)}
          {lane.chips.length === 0 && <span className="lane-empty">no VMs</span>}
        </div>
      ) : (
        // Chips of lanes far from the viewport are drawn when scrolled near: first render costs what is seen.
        <div className="lane-chips lane-pending" style={{ minHeight: 16 + Math.ceil(lane.chips.length / 9) * 41 }}><span className="lane-empty">{lane.chips.length} VMs</span></div>
      )}
    </div>
  );
});

/** True once the element has come within a screen of the viewport; stays true (no churn while scrolling back). */
function useNearViewport<T extends Element>(initially: boolean): [(el: T | null) => void, boolean] {
  const [near, setNear] = useState(initially);
  const observer = useRef<IntersectionObserver | undefined>(undefined);
  const ref = useCallback((el: T | null) => {
    observer.current?.disconnect();
    if (!el || near) return;
    observer.current = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { setNear(true); observer.current?.disconnect(); }
    }, { rootMargin: '100% 0px' });
    observer.current.observe(el);
  }, [near]);
  useEffect(() => () => observer.current?.disconnect(), []);
  return [ref, near];
}

function UnplacedChips({ chips, onMenu }: { chips: Chip[]; onMenu: (m: AnyMenu) => void }) {
  const selection = useTopology((s) => s.selection);
  const moves = useTopology((s) => s.moves);
  const tasks = useRunningTasks();
  return <div className="lane-chips">{chips.map((c) => <ChipView key={c.key} chip={c} onMenu={onMenu} selected={selection.includes(c.key)} move={moves[c.key]} tasks={tasks} />)}</div>;
}

/** The running tasks, as one comparable string per lane: a task's progress tick does not redraw the chips. */
function useRunningTasks(): TaskBrief[] {
  const key = useTasks((s) => s.order.map((id) => s.byId[id]).filter((t) => t?.state === 'running')
    .map((t) => `${t!.id}\t${t!.kind}\t${t!.target}\t${t!.interrupted ? 1 : ''}`).join('\n'));
  return useMemo(() => (key ? key.split('\n').map((l) => {
    const [id, kind, target, interrupted] = l.split('\t');
    return { id: id!, kind: kind!, target: target!, state: 'running', interrupted: !!interrupted };
  }) : []), [key]);
}

/** Subscribes to the task only while a chip is moving: most chips never pay for it. */
function MoveProgress({ taskId, chipKey }: { taskId?: string; chipKey: string }) {
  const progress = useTasks((s) => (taskId ? s.byId[taskId]?.progress : undefined));
  return <Progress value={progress ?? 0} label={`moving ${chipKey}`} />;
}

const ChipView = memo(function ChipView({ chip, onMenu, selected, move, tasks }: { chip: Chip; onMenu: (m: AnyMenu) => void; selected: boolean; move: MoveState | undefined; tasks: TaskBrief[] }) {
  const { select, startDrag, endDrag } = useTopology.getState();
  const transit = chipTransit(chip, tasks, move);
  const openConsole = () => { void useConsoles.getState().open({ kind: 'vm', vc: chip.vc, vm: chip.name }); useApp.getState().go('consoles'); };
  const vcs = useTopology((s) => s.vcs);
  const colour = vcColour(chip.vc, vcs?.map((v) => v.name));
  const openMenuAt = (el: HTMLElement) => { const r = el.getBoundingClientRect(); onMenu({ x: r.left, y: r.bottom + 4, kind: 'vm', key: chip.key }); };
  const onKey = (e: RKeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(chip.key, { toggle: e.ctrlKey || e.metaKey || e.key === ' ', range: e.shiftKey }); }
    if (e.key === 'm' || e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) { e.preventDefault(); if (!selected) select(chip.key); openMenuAt(e.currentTarget); }
  };
  const onClick = (e: RMouseEvent) => { e.stopPropagation(); select(chip.key, { toggle: e.ctrlKey || e.metaKey, range: e.shiftKey }); };
  return (
    <div
      className={`chip chip-${chip.state}${selected ? ' chip-selected' : ''}${move ? ` chip-move-${move.state}` : ''}${transit ? ` chip-transit${transit.live ? ' chip-transit-live' : ''}` : ''}`}
      style={{ ['--vc' as string]: colour }}
      // In transit, the domain's rule refuses the move: the drag is cancelled as it starts, and the screen says why.
      draggable
      data-refusal={transit?.refusal}
      tabIndex={0}
      role="button"
      aria-pressed={selected}
      aria-label={`VM ${chip.key}, ${transit?.word ?? chip.state}${move ? `, moving to ${move.to}` : ''}`}
      data-vm={chip.key}
      title={`${chip.key} · ${chip.state} · ${chip.address} · ${chip.vcpus} vCPU, ${chip.memMb} MB${move?.error ? `\nmove failed: ${move.error}` : ''}${transit?.refusal ? `\ncannot move now: ${transit.refusal}` : ''}`}
      onClick={onClick}
      onDoubleClick={openConsole}
      onContextMenu={(e) => { e.preventDefault(); e.stopPropagation(); if (!selected) select(chip.key); onMenu({ x: e.clientX, y: e.clientY, kind: 'vm', key: chip.key }); }}
      onKeyDown={onKey}
      onDragStart={(e) => {
        e.stopPropagation();
        if (transit?.refusal) { e.preventDefault(); useTopology.getState().refuseDrag(chip.key, transit.refusal); return; }
        e.dataTransfer.setData('text/plain', chip.key); e.dataTransfer.effectAllowed = 'move'; startDrag(chip.key);
      }}
      onDragEnd={endDrag}
    >
      <span className="chip-name">{chip.name}</span>
      <span className="chip-vc">{chip.vc}</span>
      {transit ? <TransitBadge transit={transit} />
        : <span className={`chip-state state-${chip.state}`}>{move?.state === 'failed' ? 'move failed' : chip.state}</span>}
      {move?.state === 'moving' && <MoveProgress chipKey={chip.key} {...(move.taskId ? { taskId: move.taskId } : {})} />}
    </div>
  );
});

function ContextMenu({ menu, close }: { menu: AnyMenu; close: () => void }) {
  const nodes = useTopology((s) => s.nodes ?? []);
  const selection = useTopology((s) => s.selection);
  const propose = useTopology((s) => s.proposeMove);
  const openConsole = useConsoles((s) => s.open);
  const go = useApp((s) => s.go);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>('button')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close();
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const items = [...(ref.current?.querySelectorAll<HTMLElement>('button:not(:disabled)') ?? [])];
        const i = items.indexOf(document.activeElement as HTMLElement);
        items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [close]);
  const style = { left: Math.min(menu.x, window.innerWidth - 240), top: Math.min(menu.y, window.innerHeight - 320) };
  if (menu.kind === 'node') {
    return (
      <div className="menu" role="menu" style={style} ref={ref} onClick={(e) => e.stopPropagation()}>
        <div className="menu-head">Node {menu.node}</div>
        <button role="menuitem" onClick={() => { void openConsole({ kind: 'node', node: menu.node }); go('consoles'); close(); }}>Open shell</button>
        <button role="menuitem" onClick={() => { execOn([menu.node]); close(); }}>Run a command here…</button>
        {selection.length > 0 && <button role="menuitem" onClick={() => { propose(menu.node, selection); close(); }}>Move {selection.length} selected here…</button>}
        <button role="menuitem" onClick={() => { void useEvacuation.getState().open(menu.node); close(); }}>Evacuate…</button>
        <button role="menuitem" onClick={() => { void runAction('node.restore', [menu.node]); close(); }}>Restore (bring its VMs back)</button>
      </div>
    );
  }
  const keys = selection.includes(menu.key) ? selection : [menu.key];
  const [vc, vm] = [menu.key.slice(0, menu.key.indexOf('/')), menu.key.slice(menu.key.indexOf('/') + 1)];
  return (
    <div className="menu" role="menu" style={style} ref={ref} onClick={(e) => e.stopPropagation()} aria-label="Move to">
      <div className="menu-head">{keys.length === 1 ? keys[0] : `${keys.length} VMs`}</div>
      {keys.length === 1 && <button role="menuitem" onClick={() => { void openConsole({ kind: 'vm', vc, vm }); go('consoles'); close(); }}>Open console</button>}
      <div className="menu-sep">Move to…</div>
      {nodes.map((n) => (
        <button key={n.name} role="menuitem" disabled={n.state !== 'up'} onClick={() => { propose(n.name, keys); close(); }}>
          {n.name} <span className="muted small">{n.state !== 'up' ? n.state : n.address}</span>
        </button>
      ))}
    </div>
  );
}

const ACTION_LABEL = { migrate: 'live migration', relocate: 'relocation', none: 'no change', refuse: 'refused' } as const;

function MoveDialog() {
  const plan = useTopology((s) => s.plan)!;
  const cancel = useTopology((s) => s.cancelMove);
  const confirmMove = useTopology((s) => s.confirmMove);
  const n = plan.moving;
  return (
    <Dialog
      title={n === 0 ? `Nothing can move to ${plan.to}` : `Move ${n} VM${n === 1 ? '' : 's'} to ${plan.to}?`}
      onClose={cancel}
      wide
      footer={<>
        <button className="btn" onClick={cancel}>{n === 0 ? 'Close' : 'Cancel'}</button>
        {n > 0 && <button className="btn primary" onClick={() => void confirmMove()}>Move {n} VM{n === 1 ? '' : 's'}</button>}
      </>}
    >
      <ul className="plan">
        {plan.items.map((i) => (
          <li key={i.key} className={`plan-${i.action}`}>
            <span className="plan-vm mono">{i.key}</span>
            <span className={`badge badge-${i.action === 'refuse' ? 'bad' : i.action === 'none' ? 'muted' : 'info'}`}>{ACTION_LABEL[i.action]}</span>
            <span className="plan-says">{i.says}</span>
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
