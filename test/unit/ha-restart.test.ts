import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CHECK_S, FENCE_S, KILL_S, TIMING, fenceAfter, fenceSpareS } from '../../main/ha/timing.js';
import { LEASE_S, MARGIN_S } from '../../main/health/lease.js';
import { decideHealth } from '../../main/health/state.js';
import { claimKey, effectiveMarks, mayClaim, planRestart, restartOrder, startWaves, type LostVm } from '../../main/ha/plan.js';
import { renderInstallScript, renderServiceFile, renderWatchdogScript, watchdogRole } from '../../main/ha/watchdogScript.js';
import type { PlaceNode } from '../../main/placement/place.js';

describe('fence timing', () => {
  it('the watchdog has killed before anything may restart elsewhere: lease + margin, with time to spare', () => {
    expect(FENCE_S).toBeLessThan(LEASE_S);
    expect(fenceSpareS(TIMING)).toBeGreaterThan(0);
    expect(FENCE_S + CHECK_S + KILL_S).toBeLessThan(LEASE_S + MARGIN_S);
  });

  it('the instant the health rule first calls the node down is after the latest kill, for any renewal instant', () => {
    for (const t of [0, 1234, 99_999]) {
      const leaseUntil = t + LEASE_S * 1000;
      const killedBy = t + (FENCE_S + CHECK_S + KILL_S) * 1000;
      // Not down at the kill (nor a little after), down only later.
      const at = (now: number) => decideHealth({ admin: 'active', probe: 'failed', leaseUntil, fenced: false, now, marginMs: MARGIN_S * 1000 }).confirmedDown;
      expect(at(killedBy)).toBe(false);
      expect(at(leaseUntil + MARGIN_S * 1000 + 1)).toBe(true);
    }
  });

  it('holds for other leases too, and refuses a lease too short to fence in', () => {
    for (const [l, m] of [[10, 5], [30, 10], [60, 5], [8, 4]] as const) {
      const f = fenceAfter(l, m);
      expect(f).toBeLessThan(l);
      expect(fenceSpareS({ leaseS: l, marginS: m, fenceS: f, checkS: CHECK_S, killS: KILL_S })).toBeGreaterThan(0);
    }
    expect(() => fenceAfter(3, 1)).toThrow(/no time to fence/);
  });
});

const node = (name: string, cores = 4, memMb = 1024, alive = true): PlaceNode => ({ name, cores, memMb, usedCores: 0, usedMemMb: 0, alive });
const lost = (vc: string, vm: string, idx: number, over: Partial<LostVm> = {}): LostVm => ({
  vc, vm, idx, node: 'n4', vcpus: 1, memMb: 128, policy: 'cyclic', mode: 'strict', armed: true, ha: true, priority: 0, order: null, ...over,
});

describe('restart order and plan', () => {
  it('marks: a VM\'s own over its VC\'s', () => {
    expect(effectiveMarks({ ha: true, priority: 5 }, { ha: null, priority: null, order: null })).toEqual({ ha: true, priority: 5, order: null });
    expect(effectiveMarks({ ha: true, priority: 5 }, { ha: false, priority: 9, order: 2 })).toEqual({ ha: false, priority: 9, order: 2 });
  });

  it('priority first (across VCs), then VC, then start order, then index', () => {
    const vms = [lost('b', 'vm1', 0, { priority: 1 }), lost('a', 'vm2', 1, { order: 0 }), lost('a', 'vm1', 0, { order: 5 }), lost('c', 'vm1', 0, { priority: 9 })];
    expect(restartOrder(vms).map((v) => `${v.vc}/${v.vm}`)).toEqual(['c/vm1', 'b/vm1', 'a/vm2', 'a/vm1']);
  });

  it('HA VMs are placed by the VC\'s policy on live nodes only; non-HA left stopped; an unarmed node refused', () => {
    const nodes = [node('n1'), node('n2'), node('n3', 4, 1024, false), node('n4')];
    const d = planRestart([
      lost('web', 'vm1', 0), lost('web', 'vm2', 1), lost('web', 'vm3', 2, { ha: false }),
      lost('db', 'vm1', 0, { node: 'n3', armed: false }),
    ], nodes);
    const byVm = Object.fromEntries(d.map((x) => [`${x.vc}/${x.vm}`, x]));
    expect(byVm['web/vm1']).toMatchObject({ action: 'restart', to: 'n1' });
    expect(byVm['web/vm2']).toMatchObject({ action: 'restart', to: 'n2' });
    expect(byVm['web/vm3']).toMatchObject({ action: 'left-stopped' });
    expect(byVm['db/vm1']).toMatchObject({ action: 'refused' });
    expect((byVm['db/vm1'] as { reason: string }).reason).toMatch(/no armed watchdog/);
    // never onto the lost node itself, even though it is listed alive
    expect(d.every((x) => x.action !== 'restart' || x.to !== 'n4')).toBe(true);
  });

  it('when room is short, the higher priority gets it and the lowest is refused with the reason', () => {
    const nodes = [node('n1', 1, 1024), node('n4')];
    const d = planRestart([lost('low', 'vm1', 0, { priority: 1 }), lost('high', 'vm1', 0, { priority: 10 })], nodes);
    expect(d[0]).toMatchObject({ vc: 'high', action: 'restart', to: 'n1' });
    expect(d[1]).toMatchObject({ vc: 'low', action: 'refused' });
    expect((d[1] as { reason: string }).reason).toMatch(/no room/);
  });

  it('start waves: by start order within the VC, lower first, one wave per order', () => {
    const nodes = [node('n1'), node('n2')];
    const d = planRestart([lost('v', 'db', 0, { order: 0 }), lost('v', 'app1', 1, { order: 10 }), lost('v', 'app2', 2, { order: 10 }), lost('w', 'x', 0)], nodes);
    expect(startWaves(d, 'v').map((w) => [w.order, w.vms.map((x) => x.vm)])).toEqual([[0, ['db']], [10, ['app1', 'app2']]]);
    expect(startWaves(d, 'w').map((w) => w.vms.map((x) => x.vm))).toEqual([['x']]);
  });
});

describe('the claim rule', () => {
  it('only an active VM of a confirmed-down node whose stay there is not yet claimed', () => {
    expect(mayClaim({ state: 'running', confirmedDown: true, claimed: false })).toBe(true);
    expect(mayClaim({ state: 'running', confirmedDown: false, claimed: false })).toBe(false);
    expect(mayClaim({ state: 'running', confirmedDown: true, claimed: true })).toBe(false);
    expect(mayClaim({ state: 'stopped', confirmedDown: true, claimed: false })).toBe(false);
    expect(mayClaim({ state: 'saved', confirmedDown: true, claimed: false })).toBe(false);
  });

  it('the key is the VM\'s stay on the node: a later loss of the same VM is a new claim', () => {
    const a = claimKey({ vc: 'v', vm: 'vm1', node: 'n4', since: '2026-11-30 10:00:00+00' });
    expect(a).toBe(claimKey({ vc: 'v', vm: 'vm1', node: 'n4', since: '2026-11-30 10:00:00+00' }));
    expect(a).not.toBe(claimKey({ vc: 'v', vm: 'vm1', node: 'n4', since: '2026-11-30 10:05:00+00' }));
  });
});

describe('the watchdog as rendered', () => {
  it('is valid sh with the timing of timing.ts, and kills only its own namespace\'s VM QEMUs', () => {
    const s = renderWatchdogScript('n4');
    execFileSync('sh', ['-n'], { input: s });
    expect(s).toContain(`FENCE_S=${FENCE_S}`);
    expect(s).toContain(`LEASE_S=${LEASE_S}`);
    expect(s).toContain('vlx_watchdog_renew($intent, $LEASE_S)');
    expect(s).toMatch(/readlink "\$p\/ns\/net"/);
    expect(s).toContain('kill -9');
    execFileSync('sh', ['-n'], { input: renderInstallScript({ script: s, service: 'x', cert: 'y' }) });
    execFileSync('sh', ['-n'], { input: renderInstallScript() });
  });

  it('connects to every member, to the writable one, pinned to the cluster certificate', () => {
    const f = renderServiceFile({ node: 'n-4', hosts: ['10.77.0.1', '10.77.0.2'], port: 5432, database: 'virtualinux', password: 'abc_DEF-123' });
    expect(f).toContain('host=10.77.0.1,10.77.0.2');
    expect(f).toContain('target_session_attrs=read-write');
    expect(f).toContain('sslmode=verify-ca');
    expect(f).toContain('user=vlx_wd_n_4');
    expect(() => renderServiceFile({ node: 'n4', hosts: ['10.77.0.1'], port: 5432, database: 'virtualinux', password: "x' y" })).toThrow(/not a plain word/);
    expect(watchdogRole('n12')).toBe('vlx_wd_n12');
  });
});
