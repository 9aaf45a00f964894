import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFailoverError } from '../../main/db/client.js';
import { ETCD_TIMING, HA_TIMING, WATCHDOG_SAFETY_MARGIN, dcsConfig, haScope, parseSecrets, renderEtcdUnit, renderPatroniUnit } from '../../main/db/haConfig.js';
import { writeIfChangedScript } from '../../main/db/haScripts.js';
import { summariseEtcd, summariseMembers } from '../../main/db/haStatus.js';
import { describeProbes } from '../../main/db/primary.js';
import { VlxError } from '../../main/errors.js';

const members = [{ node: 'n1', address: '10.77.0.1' }, { node: 'n2', address: '10.77.0.2' }, { node: 'n3', address: '10.77.0.3' }];

describe('member status from Patroni\'s answers', () => {
  it('names the primary, the synchronous standby, lag against the primary\'s position, and a dead member', () => {
    const ms = summariseMembers(members, [
      { state: 'running', role: 'master', timeline: 4, xlog: { location: 5000 }, replication: [{ application_name: 'n2', sync_state: 'sync' }, { application_name: 'n3', sync_state: 'async' }] },
      { state: 'running', role: 'replica', timeline: 4, xlog: { received_location: 5000, replayed_location: 5000 } },
      new Error('no answer'),
    ]);
    expect(ms).toEqual([
      { node: 'n1', host: '10.77.0.1', role: 'primary', state: 'running', timeline: 4 },
      { node: 'n2', host: '10.77.0.2', role: 'sync_standby', state: 'running', timeline: 4, lagBytes: 0 },
      { node: 'n3', host: '10.77.0.3', role: 'unreachable', state: 'no answer' },
    ]);
  });

  it('without a running primary, standbys have no lag figure and a demoted member says so', () => {
    const ms = summariseMembers(members, [
      { state: 'stopping', role: 'demoted' },
      { state: 'running', role: 'replica', xlog: { replayed_location: 10 } },
      { state: 'running', role: 'replica', xlog: { replayed_location: 10 } },
    ]);
    expect(ms.map((m) => [m.role, m.patroniRole, m.lagBytes])).toEqual([['other', 'demoted', undefined], ['standby', undefined, undefined], ['standby', undefined, undefined]]);
  });
});

describe('etcd health', () => {
  it('a majority agreeing on a leader is quorum', () => {
    const h = summariseEtcd(members, [{ header: { member_id: '11' }, leader: '22' }, { header: { member_id: '22' }, leader: '22' }, new Error('ECONNREFUSED')]);
    expect(h).toEqual({
      quorum: true, leader: 'n2',
      members: [
        { node: 'n1', host: '10.77.0.1', healthy: true, leader: false },
        { node: 'n2', host: '10.77.0.2', healthy: true, leader: true },
        { node: 'n3', host: '10.77.0.3', healthy: false, leader: false, error: 'ECONNREFUSED' },
      ],
    });
  });

  it('one member left, without a leader, is no quorum', () => {
    const h = summariseEtcd(members, [{ header: { member_id: '11' }, leader: '0' }, new Error('no answer'), new Error('no answer')]);
    expect(h.quorum).toBe(false);
    expect(h.leader).toBeUndefined();
    expect(h.members.every((m) => !m.healthy)).toBe(true);
  });
});

describe('failover-shaped errors', () => {
  it.each([
    [{ code: '25006', message: 'cannot execute INSERT in a read-only transaction' }, true],
    [{ code: '57P01', message: 'terminating connection due to administrator command' }, true],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, true],
    [new Error('Connection terminated unexpectedly'), true],
    [new Error('Query read timeout'), true],
    [new VlxError('unreachable', 'x'), true],
    [new VlxError('db', 'database x: Query read timeout'), true],
    [{ code: '23505', message: 'duplicate key' }, false],
    [{ code: '28P01', message: 'password authentication failed' }, false],
    [new VlxError('host-key-changed', 'not the pinned certificate'), false],
  ])('%j → %s', (e, want) => {
    expect(isFailoverError(e)).toBe(want);
  });
});

describe('HA configuration', () => {
  it('promotion under 10 s: ttl 5 with loop_wait + 2 × retry_timeout ≤ ttl; the DCS settings carry it', () => {
    expect(HA_TIMING.ttl).toBe(5);
    expect(HA_TIMING.loop_wait + 2 * HA_TIMING.retry_timeout).toBeLessThanOrEqual(HA_TIMING.ttl);
    // Patroni asks the dead primary's REST API for 2 s; etcd's leader may have died with it
    // (an election of up to two timeouts, then every lease restored plus one timeout).
    const worst = 2 * ETCD_TIMING.electionMs + ETCD_TIMING.electionMs + HA_TIMING.ttl * 1000 + 2000;
    expect(worst).toBeLessThan(9000);
    // a watchdog (where the node has one) fires after ttl − margin, more than a loop after the last one
    expect(HA_TIMING.ttl - WATCHDOG_SAFETY_MARGIN - HA_TIMING.loop_wait).toBeGreaterThanOrEqual(1);
    // etcd's tuning guide: an election timeout of at least ten heartbeats
    expect(ETCD_TIMING.electionMs).toBeGreaterThanOrEqual(10 * ETCD_TIMING.heartbeatMs);
    expect(dcsConfig()).toMatchObject({ ...HA_TIMING, synchronous_mode: true, synchronous_mode_strict: false });
  });

  it('scope names stay plain', () => {
    expect(haScope('lab')).toBe('vlx-lab');
    expect(haScope('a b/c')).toBe('vlx-a_b_c');
  });

  it('secrets: only three long tokens are accepted', () => {
    const ok = { superuser: 'a'.repeat(24), replication: 'b'.repeat(24), rest: 'c'.repeat(24) };
    expect(parseSecrets(JSON.stringify(ok))).toEqual(ok);
    expect(parseSecrets(JSON.stringify({ ...ok, rest: "x'; drop" }))).toBeUndefined();
    expect(parseSecrets('not json')).toBeUndefined();
  });

  it('systemd units run etcd and Patroni as their own users, Patroni stopping PostgreSQL itself', () => {
    expect(renderEtcdUnit()).toContain('User=etcd\nExecStart=/usr/bin/etcd --config-file /var/lib/virtualinux/etcd/etcd.yml');
    expect(renderPatroniUnit()).toMatch(/User=postgres[\s\S]*ExecStart=\/usr\/bin\/patroni \/var\/lib\/virtualinux\/pg\/patroni.yml[\s\S]*KillMode=process/);
  });

  it('writeIfChanged writes through sh and tells changed from same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-wic-'));
    const file = join(dir, "a file 'with' quotes");
    const owner = `${process.getuid!()}:${process.getgid!()}`;
    const run = (content: string) => execFileSync('sh', ['-c', writeIfChangedScript(file, owner)], { input: content }).toString().trim();
    expect(run('one\n')).toBe('changed');
    expect(run('one\n')).toBe('same');
    expect(run('two\n')).toBe('changed');
    expect(readFileSync(file, 'utf8')).toBe('two\n');
  });
});

describe('no-primary message', () => {
  it('names every member and its state', () => {
    expect(describeProbes([
      { node: 'n1', host: '10.77.0.1', state: 'standby' },
      { node: 'n2', host: '10.77.0.2', state: 'unreachable', detail: 'ETIMEDOUT' },
    ])).toBe('n1 10.77.0.1: standby (read-only); n2 10.77.0.2: unreachable (ETIMEDOUT)');
  });
});
