import { describe, expect, it } from 'vitest';
import { ADMIN_STATES, decideHealth, leaseExpired, placeable, vmsUnknownOn, type AdminState, type HealthState, type Probe } from '../../main/health/state.js';
import { probeCommand } from '../../main/health/loop.js';

const NOW = 1_000_000;
const MARGIN = 5000;
type Lease = 'valid' | 'in-margin' | 'expired' | 'never';
const leaseAt: Record<Lease, number | null> = { valid: NOW + 8000, 'in-margin': NOW - 2000, expired: NOW - 6000, never: null };

/**
 * Every combination of the inputs and the state it must give. Read a row as: admin, probe,
 * lease, fenced → state. The rules it pins: an answer is always alive; a lost node is down
 * only once its lease is past the margin (or it was fenced), never by a lost probe alone;
 * maintenance is the admin's and stays; evacuating shows while the node is alive.
 */
const TABLE: [AdminState, Probe, Lease, boolean, HealthState][] = [];
for (const admin of ADMIN_STATES) {
  for (const probe of ['ok', 'failed', 'unknown'] as Probe[]) {
    for (const lease of ['valid', 'in-margin', 'expired', 'never'] as Lease[]) {
      for (const fenced of [false, true]) {
        let want: HealthState;
        const dead = probe !== 'ok' && (fenced || lease === 'expired' || lease === 'never');
        if (admin === 'maintenance') want = 'maintenance';
        else if (probe === 'ok') want = admin === 'evacuating' ? 'evacuating' : 'up';
        else if (dead) want = 'down';
        else if (probe === 'unknown' && lease === 'valid') want = admin === 'evacuating' ? 'evacuating' : 'up';
        else want = 'unreachable';
        TABLE.push([admin, probe, lease, fenced, want]);
      }
    }
  }
}

describe('decideHealth', () => {
  it('covers every combination (3 admin × 3 probe × 4 lease × 2 fenced)', () => {
    expect(TABLE).toHaveLength(72);
  });

  it.each(TABLE)('%s, probe %s, lease %s, fenced %s → %s', (admin, probe, lease, fenced, want) => {
    const h = decideHealth({ admin, probe, leaseUntil: leaseAt[lease], fenced, now: NOW, marginMs: MARGIN });
    expect(h.state).toBe(want);
    expect(h.reason.length).toBeGreaterThan(0);
  });

  it('a partition alone never makes a node down: a failed probe with a lease still inside its margin is unreachable', () => {
    for (let t = 0; t <= MARGIN; t += 500) {
      expect(decideHealth({ admin: 'active', probe: 'failed', leaseUntil: NOW - t, fenced: false, now: NOW, marginMs: MARGIN }).state).toBe('unreachable');
    }
    expect(decideHealth({ admin: 'active', probe: 'failed', leaseUntil: NOW - MARGIN - 1, fenced: false, now: NOW, marginMs: MARGIN }).state).toBe('down');
  });

  it('says why, in words', () => {
    const d = (probe: Probe, lease: Lease, fenced = false) => decideHealth({ admin: 'active', probe, leaseUntil: leaseAt[lease], fenced, now: NOW, marginMs: MARGIN }).reason;
    expect(d('failed', 'expired')).toBe('no answer and its lease expired');
    expect(d('failed', 'valid')).toBe('no answer; its lease is still valid');
    expect(d('failed', 'valid', true)).toBe('fenced');
    expect(d('failed', 'never')).toBe('no answer and never leased');
    expect(decideHealth({ admin: 'maintenance', probe: 'failed', leaseUntil: leaseAt.expired, fenced: false, now: NOW, marginMs: MARGIN }).reason)
      .toBe('in maintenance (no answer and its lease expired)');
  });

  it('confirmedDown is what HA restart acts on, also for a node in maintenance', () => {
    expect(decideHealth({ admin: 'maintenance', probe: 'failed', leaseUntil: leaseAt.expired, fenced: false, now: NOW, marginMs: MARGIN }).confirmedDown).toBe(true);
    expect(decideHealth({ admin: 'active', probe: 'failed', leaseUntil: leaseAt['in-margin'], fenced: false, now: NOW, marginMs: MARGIN }).confirmedDown).toBe(false);
    expect(decideHealth({ admin: 'active', probe: 'ok', leaseUntil: leaseAt.expired, fenced: true, now: NOW, marginMs: MARGIN }).confirmedDown).toBe(false);
  });
});

describe('health helpers', () => {
  it('leaseExpired counts the margin', () => {
    expect(leaseExpired({ leaseUntil: NOW, now: NOW + MARGIN, marginMs: MARGIN })).toBe(false);
    expect(leaseExpired({ leaseUntil: NOW, now: NOW + MARGIN + 1, marginMs: MARGIN })).toBe(true);
    expect(leaseExpired({ leaseUntil: null, now: NOW, marginMs: MARGIN })).toBe(true);
  });

  it('only an up node takes new VMs; VMs are unknown on unreachable and down nodes only', () => {
    expect((['up', 'unreachable', 'down', 'maintenance', 'evacuating'] as HealthState[]).filter(placeable)).toEqual(['up']);
    expect((['up', 'unreachable', 'down', 'maintenance', 'evacuating', undefined] as (HealthState | undefined)[]).filter(vmsUnknownOn)).toEqual(['unreachable', 'down']);
  });

  it('the probe hands the node its lease deadline, quoted', () => {
    expect(probeCommand(null)).toBe('cat /proc/sys/kernel/random/boot_id');
    expect(probeCommand(1700000000)).toBe("cat /proc/sys/kernel/random/boot_id; mkdir -p /run/virtualinux && printf '%s\\n' 1700000000 > /run/virtualinux/lease");
  });
});
