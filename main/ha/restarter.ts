/**
 * HA restart: when a node is confirmed down, its HA VMs run again on other nodes from their
 * volumes (overlays on shared storage), placed by their VC's policy over the live capacity,
 * in priority order and by start order within each VC (main/ha/plan.ts). Whichever health
 * loop notices first does it: each VM's stay on the dead node is claimed in the database
 * (ha_restarts' primary key, one insert wins), so no two workstations restart one VM. The
 * restarts of one VC are one task (vc.ha-restart) under the VC's lock, with progress; a VM
 * that is not HA is left stopped and the task's log and `vc status` say why.
 *
 * No VM runs twice: restarts wait for "confirmed down" (the lease ran out more than the margin
 * ago), by which time the node's armed watchdog has killed every QEMU it had (timing.ts);
 * a node whose watchdog was not armed gets no restart at all. The dead node keeps no copy
 * to start again when it comes back: its QEMUs died with it, and the DB maps the VM elsewhere.
 */
import { lockHeldSql, processLabel, type Queryable } from '../db/client.js';
import type { VcEnv } from '../cluster/env.js';
import type { ClusterSession } from '../ssh/session.types.js';
import { ACTIVE_VM_STATES, getVc, listNodeRows, nodeUsage, setVmState } from '../cluster/repo.js';
import { MARGIN_S } from '../health/lease.js';
import type { PlaceNode } from '../placement/place.js';
import { syncNetwork } from '../network/sync.js';
import { readImageMeta } from '../vm/vmOps.js';
import { startOnNode } from '../vm/startOnNode.js';
import type { StepContext, TaskSummary, WorkflowDef } from '../tasks/types.js';
import { effectiveMarks, planRestart, startWaves, type LostVm, type RestartDecision } from './plan.js';

interface LostRow {
  vc: string; vm: string; idx: number; node: string; since: string; state: string;
  vc_ha: boolean; vc_priority: number; vm_ha: boolean | null; vm_priority: number | null; vm_order: number | null;
  vcpus: number; mem_mb: number; policy: 'block' | 'cyclic'; mode: 'strict' | 'free'; armed: boolean | null;
}

/**
 * Active VMs meant to run, mapped to these nodes, whose stay there is not claimed yet, on nodes whose lease ran
 * out more than the margin ago by the database's clock: the health rule's "confirmed down",
 * checked again here where the claim is made, whatever the caller's view was.
 */
async function findLost(q: Queryable, nodes: string[]): Promise<(LostVm & { since: string })[]> {
  const r = await q.query<LostRow>(
    `select m.vc, m.vm, v.idx, m.node, m.since::text as since, v.state,
            c.ha as vc_ha, c.ha_priority as vc_priority, v.ha as vm_ha, v.ha_priority as vm_priority, v.ha_order as vm_order,
            c.vcpus, c.mem_mb, c.policy, c.mode, l.fence_armed as armed
       from mapping m join vms v on v.vc = m.vc and v.name = m.vm join vcs c on c.name = m.vc
       left join node_leases l on l.node = m.node
      where m.node = any($1::text[]) and v.state = any($2::text[]) and v.desired_state = 'running'
        and (l.lease_until is null or l.lease_until + make_interval(secs => $3) < now())
        -- a VC whose own workflow runs (a stop, a move) is left to it: asked again next tick
        and not ${lockHeldSql("'vc:' || m.vc")}
        and not exists (select 1 from ha_restarts h where h.vc = m.vc and h.vm = m.vm and h.from_node = m.node and h.mapped_since = m.since)
      order by m.vc, v.idx`,
    [nodes, [...ACTIVE_VM_STATES], MARGIN_S],
  );
  return r.rows.map((x) => ({
    vc: x.vc, vm: x.vm, idx: x.idx, node: x.node, since: x.since, vcpus: x.vcpus, memMb: x.mem_mb, policy: x.policy, mode: x.mode,
    armed: x.armed === true,
    ...effectiveMarks({ ha: x.vc_ha, priority: x.vc_priority }, { ha: x.vm_ha, priority: x.vm_priority, order: x.vm_order }),
  }));
}

/** Live capacity: every node the health view calls up, not held by the admin, with what runs there now. */
async function liveNodes(q: Queryable, up: Set<string>): Promise<PlaceNode[]> {
  const [rows, usage, held] = await Promise.all([
    listNodeRows(q), nodeUsage(q),
    q.query<{ name: string }>(`select name from nodes where admin_state <> 'active'`).then((r) => new Set(r.rows.map((x) => x.name))),
  ]);
  return rows.map((n) => ({
    name: n.name, cores: n.cores, memMb: n.memMb,
    usedCores: usage.get(n.name)?.cores ?? 0, usedMemMb: usage.get(n.name)?.memMb ?? 0,
    alive: up.has(n.name) && !held.has(n.name),
  }));
}

/**
 * Claim, in one transaction: a row per lost VM (the insert that goes through is the claim),
 * and for each VM won, its new state. A restarted VM is mapped to its new node as 'starting';
 * one that is left stopped (not HA, or no room) is stopped with no node, its QEMU gone with the
 * node's watchdog; one refused because the node had no armed watchdog keeps its row (unknown).
 */
async function claim(env: VcEnv, lost: (LostVm & { since: string })[], decisions: RestartDecision[], who: string): Promise<RestartDecision[]> {
  const since = new Map(lost.map((v) => [`${v.vc}/${v.vm}`, v]));
  return env.db.tx(async (q) => {
    const won: RestartDecision[] = [];
    for (const d of decisions) {
      const v = since.get(`${d.vc}/${d.vm}`)!;
      const r = await q.query(
        `insert into ha_restarts (vc, vm, from_node, mapped_since, claimed_by, action, to_node, reason)
         values ($1, $2, $3, $4::timestamptz, $5, $6, $7, $8) on conflict do nothing returning vm`,
        [d.vc, d.vm, d.from, v.since, who, d.action, d.action === 'restart' ? d.to : null, d.action === 'restart' ? null : d.reason],
      );
      if ((r.rowCount ?? 0) === 0) continue;
      won.push(d);
      if (d.action === 'restart') {
        await q.query(`update mapping set node = $3, since = now() where vc = $1 and vm = $2`, [d.vc, d.vm, d.to]);
        await setVmState(q, d.vc, [d.vm], 'starting', 'running');
      } else if (d.action === 'left-stopped' ? v.armed : d.reason.startsWith('no room')) {
        await q.query(`delete from mapping where vc = $1 and vm = $2`, [d.vc, d.vm]);
        await setVmState(q, d.vc, [d.vm], 'stopped');
      }
    }
    return won;
  });
}

const step = (name: string, run: (ctx: StepContext) => Promise<void>) => ({ name, run });

/**
 * The cluster without the lost nodes, for the network syncs of a restart: a dead node would
 * hold each sync for its full timeout (it answers nothing), and it has nothing to converge;
 * the first sync after it is back puts its routes right, as for any node a sync skipped.
 */
function withoutNodes(env: VcEnv, lost: Set<string>): VcEnv {
  const s = env.session;
  const nodes = () => s.nodes().filter((n) => !lost.has(n.name));
  const session: ClusterSession = {
    config: s.config,
    nodes,
    any: () => s.any(),
    node: (name) => s.node(name),
    onNodes: (names, command, opts) => s.onNodes(names === 'all' ? nodes().map((n) => n.name) : names.filter((n) => !lost.has(n)), command, opts),
    close: () => s.close(),
  };
  return { ...env, session };
}

/** The restarts of one VC as a task: the report, then each start order in turn, then the network. */
export function haRestartWorkflow(env: VcEnv, vcName: string, decisions: RestartDecision[]): WorkflowDef {
  const mine = decisions.filter((d) => d.vc === vcName);
  const waves = startWaves(mine, vcName);
  const live = withoutNodes(env, new Set(mine.map((d) => d.from)));
  return {
    kind: 'vc.ha-restart',
    target: vcName,
    params: { decisions: mine },
    lockKey: `vc:${vcName}`,
    steps: [
      step('report', async (ctx) => {
        for (const d of mine) {
          await env.db.query(`update ha_restarts set task_id = $3 where vc = $1 and vm = $2 and task_id is null`, [d.vc, d.vm, ctx.taskId]);
          ctx.log(d.action === 'restart'
            ? `${d.vc}/${d.vm}: its node ${d.from} is down: restarting on ${d.to} (priority ${d.priority}, start order ${d.order})`
            : `${d.vc}/${d.vm}: ${d.action === 'left-stopped' ? 'left stopped' : 'not restarted'}: ${d.reason}`);
        }
      }),
      step('network', async (ctx) => {
        // The new nodes' firewall rules for the taps before the VMs start there.
        await syncNetwork(live, { tapsPending: true, log: ctx.log });
      }),
      step('start', async (ctx) => {
        const vc = await getVc(env.db, vcName);
        const meta = await readImageMeta(env, vc.image);
        let done = 0;
        const total = waves.reduce((n, w) => n + w.vms.length, 0);
        for (const w of waves) {
          // Idempotent: a VM already running where it was sent is only recorded (a resumed task).
          const rows = await env.db.query<{ vm: string; state: string; node: string | null }>(
            `select v.name as vm, v.state, m.node from vms v left join mapping m on m.vc = v.vc and m.vm = v.name where v.vc = $1 and v.name = any($2::text[])`,
            [vcName, w.vms.map((x) => x.vm)]);
          const byNode = new Map<string, string[]>();
          for (const x of w.vms) {
            const row = rows.rows.find((r) => r.vm === x.vm);
            if (!row || row.node !== x.to || (row.state !== 'starting' && row.state !== 'running')) {
              ctx.log(`${vcName}/${x.vm}: no longer waiting to start on ${x.to} (${row ? `${row.state} on ${row.node ?? 'no node'}` : 'gone'}): left alone`);
              continue;
            }
            byNode.set(x.to, [...(byNode.get(x.to) ?? []), x.vm]);
          }
          await Promise.all([...byNode].map(async ([node, vms]) => {
            await startOnNode(env, vc, meta, node, vms, ctx.log);
            await env.db.tx(async (q) => {
              await setVmState(q, vcName, vms, 'running', 'running');
              await q.query(`update ha_restarts set done_at = now() where vc = $1 and vm = any($2::text[]) and to_node = $3 and done_at is null`, [vcName, vms, node]);
            });
            done += vms.length;
            ctx.progress(done / Math.max(1, total), `${done}/${total} VMs running again`);
            ctx.log(`${vms.map((v) => `${vcName}/${v}`).join(', ')} running again on ${node} (start order ${w.order})`);
          }));
        }
      }),
      step('routes', async (ctx) => {
        await syncNetwork(live, { log: ctx.log });
        await env.db.query(`update ha_restarts set done_at = now() where vc = $1 and action <> 'restart' and done_at is null`, [vcName]);
      }),
    ],
  };
}

export type RunTask = (def: WorkflowDef) => Promise<TaskSummary>;

/**
 * What a health loop calls when it sees nodes confirmed down: claims what no one else has, and
 * runs one task per VC it won (VCs in priority order, one after another: higher-priority VMs
 * take the capacity first). Never two runs at once in one process; the claim handles the others.
 */
export class HaRestarter {
  private running: Promise<void> | undefined;
  lastError: string | undefined;
  readonly tasks: TaskSummary[] = [];

  constructor(private readonly env: () => Promise<VcEnv>, private readonly run: RunTask, private readonly who = processLabel()) {}

  onDown(down: string[], up: string[]): Promise<void> {
    if (down.length === 0) return Promise.resolve();
    this.running ??= this.restart(down, new Set(up)).catch((e: unknown) => {
      this.lastError = e instanceof Error ? e.message : String(e);
    }).finally(() => { this.running = undefined; });
    return this.running;
  }

  private async restart(down: string[], up: Set<string>): Promise<void> {
    const env = await this.env();
    const lost = await findLost(env.db, down);
    if (lost.length === 0) return;
    const decisions = planRestart(lost, await liveNodes(env.db, up));
    const won = await claim(env, lost, decisions, this.who);
    const vcs = [...new Set(won.map((d) => d.vc))];
    for (const vc of vcs) {
      for (let tries = 0; ; tries++) {
        try {
          this.tasks.push(await this.run(haRestartWorkflow(env, vc, won)));
          break;
        } catch (e) {
          // The VC's lock is held (a workflow of it runs): its VMs are claimed; try again shortly.
          if ((e as { code?: string }).code !== 'conflict' || tries >= 30) throw e;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  }
}
