import { LEASE_S, MARGIN_S } from '../health/lease.js';

/**
 * The self-fencing watchdog's timing, derived from the lease (main/health/lease.ts) in this one
 * place, with the invariant that makes HA restart safe written once:
 *
 *   a node's QEMUs are dead before lease_until + MARGIN_S,
 *
 * because nothing restarts a node's VMs elsewhere before then (decideHealth: confirmed down
 * only once the lease ran out more than MARGIN_S ago).
 *
 * Why it holds. The watchdog measures on its own monotonic clock from the instant it *sent*
 * its last renewal that was answered (t). The DB granted lease_until >= now_db + LEASE_S at
 * some instant after t, so lease_until >= t + LEASE_S (elapsed time; only the clocks' rates
 * matter, not their offsets). The watchdog looks at least every CHECK_S; once FENCE_S have
 * passed since t it kills, taking at most KILL_S. So the QEMUs are dead by
 * t + FENCE_S + CHECK_S + KILL_S, which must stay below t + LEASE_S + MARGIN_S with SLACK_S to
 * spare (scheduling on a loaded node, clock rates).
 *
 * Why the app's own renewals (a workstation renews a node whose SSH probe answers) do not
 * break it: leases only grow (greatest() in both renew functions), so another renewal can only
 * move lease_until later, which delays a restart elsewhere and never advances it; the
 * watchdog's deadline is counted from its own renewals alone, so it fences no later for them.
 * The worst the app's renewals do is keep a node "up" whose watchdog cannot reach the DB: that
 * watchdog fences itself all the same, a lost VM and not a doubled one.
 */

/** A renewal that has not answered in this time counts as failed (psql's connect and query). */
export const RENEW_TIMEOUT_S = 2;
/** The pause between two renewal attempts. */
export const RENEW_PAUSE_S = 1;
/** The longest time between two looks at the fence deadline: one renewal attempt plus the pause. */
export const CHECK_S = RENEW_TIMEOUT_S + RENEW_PAUSE_S;
/** SIGKILL of every QEMU of the node and the check that they are gone. */
export const KILL_S = 1;
/** Kept free for a slow, loaded node and clock rates. */
export const SLACK_S = 2;

export interface FenceTiming {
  leaseS: number;
  marginS: number;
  fenceS: number;
  checkS: number;
  killS: number;
}

/**
 * FENCE_S: as late as the invariant allows (a DB that blinks should not cost every HA VM of
 * the node), and in any case before the lease itself runs out.
 */
export function fenceAfter(leaseS: number, marginS: number): number {
  const s = Math.min(leaseS - 1, leaseS + marginS - CHECK_S - KILL_S - SLACK_S);
  if (s < 1) throw new Error(`lease ${leaseS} s with margin ${marginS} s leaves the watchdog no time to fence (needs ${CHECK_S + KILL_S + SLACK_S + 1} s)`);
  return s;
}

export const FENCE_S = fenceAfter(LEASE_S, MARGIN_S);

export const TIMING: FenceTiming = { leaseS: LEASE_S, marginS: MARGIN_S, fenceS: FENCE_S, checkS: CHECK_S, killS: KILL_S };

/**
 * The invariant, as a check: seconds to spare between the moment the node's QEMUs are dead at
 * the latest and the earliest moment any workstation may restart them elsewhere.
 */
export function fenceSpareS(t: FenceTiming): number {
  return t.leaseS + t.marginS - (t.fenceS + t.checkS + t.killS);
}
