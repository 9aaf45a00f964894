/**
 * A node's health, decided from three inputs and nothing else (pure; no clock of its own):
 *
 * - reachability: did the last SSH probe over the pooled connection answer in time;
 * - the lease: the instant until which some live party vouched for the node (main/health/lease.ts),
 *   compared with the database's clock, not the workstation's, so two workstations agree;
 * - the admin's state: active, maintenance or evacuating.
 *
 * A node is **down** only when that is confirmed: it was fenced, or its lease ran out more
 * than a margin ago. Losing the link alone makes it **unreachable**: it may be alive and
 * running its VMs, and nothing may be restarted elsewhere until the lease has expired. HA
 * restart (a later workflow) acts only on `down`; the node's own watchdog fences itself when
 * it cannot renew, which is why the margin exists.
 */
export const HEALTH_STATES = ['up', 'unreachable', 'down', 'maintenance', 'evacuating'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export const ADMIN_STATES = ['active', 'maintenance', 'evacuating'] as const;
export type AdminState = (typeof ADMIN_STATES)[number];

/** ok: answered; failed: refused, timed out or no route; unknown: not probed yet by this process. */
export type Probe = 'ok' | 'failed' | 'unknown';

export interface HealthInput {
  admin: AdminState;
  probe: Probe;
  /** ms since the epoch, on the DB's clock; null: never leased */
  leaseUntil: number | null;
  /** set when a fencing agent confirmed the node is off (HA restart's job) */
  fenced: boolean;
  /** the DB's clock, ms since the epoch */
  now: number;
  /** how long after the lease's end the node counts as dead (covers clock skew and the watchdog's reaction) */
  marginMs: number;
}

export interface Health {
  state: HealthState;
  /** the lease no longer vouches for the node (whatever the admin state) */
  confirmedDown: boolean;
  /** why, in words, for `vlx nodes` and the lane's tooltip */
  reason: string;
}

export function leaseExpired(i: Pick<HealthInput, 'leaseUntil' | 'now' | 'marginMs'>): boolean {
  return i.leaseUntil === null || i.now > i.leaseUntil + i.marginMs;
}

export function decideHealth(i: HealthInput): Health {
  // A node that answers is alive now, whatever an old lease or a fencing record says.
  const confirmedDown = i.probe !== 'ok' && (i.fenced || leaseExpired(i));
  const lost = (): Health => {
    if (confirmedDown) {
      return { state: 'down', confirmedDown, reason: i.fenced ? 'fenced' : i.leaseUntil === null ? 'no answer and never leased' : 'no answer and its lease expired' };
    }
    return { state: 'unreachable', confirmedDown, reason: i.probe === 'unknown' ? 'not probed yet; its lease is valid' : 'no answer; its lease is still valid' };
  };
  // Maintenance is the admin's: a node taken out may well be switched off; that is expected, not news.
  if (i.admin === 'maintenance') return { state: 'maintenance', confirmedDown, reason: i.probe === 'ok' ? 'in maintenance' : `in maintenance (${lost().reason})` };
  if (i.probe === 'ok') return { state: i.admin === 'evacuating' ? 'evacuating' : 'up', confirmedDown: false, reason: 'answers' };
  if (i.probe === 'unknown' && !confirmedDown && !leaseExpired({ ...i, marginMs: 0 })) {
    return { state: i.admin === 'evacuating' ? 'evacuating' : 'up', confirmedDown: false, reason: 'its lease is valid' };
  }
  return lost();
}

/** Placement may put new VMs only on a node in this state. */
export function placeable(state: HealthState): boolean {
  return state === 'up';
}

/** A VM on a node in this state: what its node says of it is not known now. */
export function vmsUnknownOn(state: HealthState | undefined): boolean {
  return state === 'unreachable' || state === 'down';
}
