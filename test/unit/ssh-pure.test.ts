// Pure parts of the SSH core and the node/exec CLI: decision tables, parsers, formatters.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { VlxError } from '../../main/errors.js';
import { classifyHostKey, decideHostKey, hostKeyAlgorithms, type HostKeyStatus, type HostKeyVerdict } from '../../main/ssh/hostKeys.js';
import { normaliseSshError } from '../../main/ssh/errors.js';
import { Semaphore } from '../../main/ssh/semaphore.js';
import { pickError } from '../../main/ssh/session.js';
import { inspectScript, kvmState, parseInspect } from '../../main/nodes/inspect.js';
import { NODE_TOOLS } from '../../main/nodes/requirements.js';
import { LinePrefixer, execExitCode, parseNodeList } from '../../main/cli/exec.js';
import { nodesFromFirstContact } from '../../main/cluster/firstContact.js';

const A = { keyType: 'ssh-ed25519', keyBase64: 'AAAA' };
const B = { keyType: 'ssh-ed25519', keyBase64: 'BBBB' };
const R = { keyType: 'ssh-rsa', keyBase64: 'AAAA' };

describe('host key decision', () => {
  it.each([
    ['nothing known', A, [], 'unknown'],
    ['the same key', A, [A], 'match'],
    ['among several keys', A, [R, B, A], 'match'],
    ['another key of the same type', A, [B], 'changed'],
    ['same bytes, other type', A, [R], 'changed'],
    ['only other types known', A, [R, B], 'changed'],
  ] as const)('classifies %s', (_what, presented, known, status) => {
    expect(classifyHostKey(presented, known)).toBe(status);
  });

  const table: [HostKeyStatus, boolean, HostKeyVerdict][] = [
    ['match', false, 'connect'],
    ['match', true, 'connect'],
    ['unknown', false, 'refuse-unknown'],
    ['unknown', true, 'remember-and-connect'],
    ['changed', false, 'refuse-changed'],
    ['changed', true, 'refuse-changed'],
  ];
  it.each(table)('%s with accept-new=%s → %s', (status, acceptNew, verdict) => {
    expect(decideHostKey(status, acceptNew)).toBe(verdict);
  });

  it('asks first for the key types already known, then the rest in the usual order', () => {
    expect(hostKeyAlgorithms([])).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithms([R]).slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    expect(hostKeyAlgorithms([{ keyType: 'ecdsa-sha2-nistp256', keyBase64: 'x' }])[0]).toBe('ecdsa-sha2-nistp256');
    expect(new Set(hostKeyAlgorithms([R, A])).size).toBe(hostKeyAlgorithms([R, A]).length);
  });
});

describe('ssh error normaliser', () => {
  const t = { node: 'n2', address: '10.77.0.2', port: 22, user: 'root' };
  const err = (message: string, extra: Record<string, unknown>) => Object.assign(new Error(message), extra);
  it.each([
    [err('connect ECONNREFUSED 10.77.0.2:22', { code: 'ECONNREFUSED' }), 'unreachable', 'node n2 (10.77.0.2:22) refused the connection'],
    [err('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), 'unreachable', 'node n2 (10.77.0.2:22) is unreachable (no route to host)'],
    [err('connect ENETUNREACH', { code: 'ENETUNREACH' }), 'unreachable', 'node n2 (10.77.0.2:22) is unreachable (no route to host)'],
    [err('connect ETIMEDOUT', { code: 'ETIMEDOUT' }), 'unreachable', 'node n2 (10.77.0.2:22) did not answer (connection timed out)'],
    [err('connect timeout', { code: 'connect-timeout' }), 'unreachable', 'node n2 (10.77.0.2:22) did not answer (connection timed out)'],
    [err('getaddrinfo ENOTFOUND', { code: 'ENOTFOUND' }), 'unreachable', 'node n2 (10.77.0.2:22): the host name does not resolve'],
    [err('read ECONNRESET', { code: 'ECONNRESET' }), 'unreachable', 'node n2 (10.77.0.2:22) closed the connection during the SSH handshake'],
    [err('Timed out while waiting for handshake', { level: 'client-timeout' }), 'timeout', 'node n2 (10.77.0.2:22) accepted the connection but the SSH handshake timed out'],
    [err('Keepalive timeout', { level: 'client-timeout' }), 'unreachable', 'node n2 (10.77.0.2:22) stopped answering (keep-alive timed out)'],
    [err('All configured authentication methods failed', { level: 'client-authentication' }), 'auth-failed', 'node n2 (10.77.0.2:22): the key was refused for root@10.77.0.2'],
    [err('agent went away', { level: 'agent' }), 'auth-failed', 'node n2 (10.77.0.2:22): the SSH agent failed: agent went away'],
    [err('Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given', {}), 'auth-failed', 'the private key cannot be used: Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given'],
    [err('bad packet', { level: 'protocol' }), 'unreachable', 'node n2 (10.77.0.2:22): SSH handshake failed: bad packet'],
    [err('weird', {}), 'unreachable', 'node n2 (10.77.0.2:22): weird'],
  ])('%s', (e, code, message) => {
    const v = normaliseSshError(e, t);
    expect(v.code).toBe(code);
    expect(v.message).toBe(message);
    expect(v.details).toMatchObject({ node: 'n2', address: '10.77.0.2' });
  });
  it('keeps a VlxError as it is', () => {
    const v = new VlxError('host-key-changed', 'x');
    expect(normaliseSshError(v, t)).toBe(v);
  });
});

describe('pickError: what to say when no node answered', () => {
  const n = (name: string) => ({ name, address: `10.0.0.${name.slice(1)}` });
  it('prefers errors a person must act on over unreachable', () => {
    const e = pickError('c', [
      { node: n('n1'), error: new VlxError('unreachable', 'a') },
      { node: n('n2'), error: new VlxError('host-key-unknown', 'b') },
      { node: n('n3'), error: new VlxError('auth-failed', 'c') },
    ]);
    expect(e.code).toBe('host-key-unknown');
    expect(pickError('c', [{ node: n('n1'), error: new VlxError('auth-failed', 'c') }, { node: n('n2'), error: new VlxError('host-key-changed', 'd') }]).code).toBe('host-key-changed');
  });
  it('lists every node when all were unreachable', () => {
    const e = pickError('lab', [{ node: n('n1'), error: new VlxError('unreachable', 'node n1 gone') }, { node: n('n2'), error: new VlxError('timeout', 'node n2 slow') }]);
    expect(e.code).toBe('unreachable');
    expect(e.message).toBe('no node of cluster lab answered:\n  node n1 gone\n  node n2 slow');
  });
  it('names an empty cluster', () => {
    expect(pickError('x', []).message).toBe('cluster x has no nodes');
  });
});

describe('Semaphore', () => {
  it('grants up to its size, queues the rest in order, and aborts a waiter', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    const order: number[] = [];
    const w3 = s.acquire().then((r) => { order.push(3); return r; });
    const ac = new AbortController();
    const w4 = s.acquire(ac.signal);
    const w5 = s.acquire().then((r) => { order.push(5); return r; });
    expect(s.inUse).toBe(2);
    ac.abort(new Error('stop'));
    await expect(w4).rejects.toThrow('stop');
    r1();
    r1(); // a second release of the same grant is ignored
    (await w3)();
    r2();
    (await w5)();
    expect(order).toEqual([3, 5]);
    expect(s.inUse).toBe(0);
  });
});

describe('node inspection', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
  const tools = NODE_TOOLS.map((t, i) => `tool ${t.name} ${i === 1 ? 0 : 1}`).join('\n');
  it('parses the one-round-trip report', () => {
    const out = [
      'hostname n3', 'kernel 6.1.0-18-amd64', 'nproc 2', 'memkb 2048000',
      `nodejson ${b64({ name: 'n3', cores: 4, memMb: 8192 })}`, 'kvmdev 1',
      `kvmjson ${b64({ usable: false, checkedAt: '2026-01-01T00:00:00Z', reason: 'MSR assertion' })}`, tools, '',
    ].join('\n');
    expect(parseInspect('n3', '10.77.0.3', out)).toEqual({
      node: 'n3', address: '10.77.0.3', reachable: true, hostname: 'n3', kernel: '6.1.0-18-amd64',
      declared: { cores: 4, memMb: 8192 }, detected: { cores: 2, memMb: 2000 },
      kvm: { state: 'unusable', reason: 'MSR assertion', checkedAt: '2026-01-01T00:00:00Z' },
      tools: Object.fromEntries(NODE_TOOLS.map((t, i) => [t.name, i !== 1])),
      missingTools: [NODE_TOOLS[1].name],
    });
  });
  it('copes with missing files and tools it never heard of', () => {
    const info = parseInspect('n1', 'a', 'hostname n1\nkernel k\nnproc \nmemkb \nnodejson \nkvmdev 0\nkvmjson \n');
    expect(info.declared).toBeUndefined();
    expect(info.detected).toEqual({ cores: undefined, memMb: undefined });
    expect(info.kvm).toEqual({ state: 'absent', reason: 'no /dev/kvm' });
    expect(info.missingTools).toEqual(NODE_TOOLS.map((t) => t.name));
  });
  it.each([
    [false, undefined, 'absent'],
    [false, { usable: true }, 'absent'],
    [true, undefined, 'unverified'],
    [true, 'garbage', 'unverified'],
    [true, { checkedAt: 1 }, 'unverified'],
    [true, { usable: true, checkedAt: 1 }, 'usable'],
    [true, { usable: false }, 'unusable'],
  ])('KVM: device=%s probe=%j → %s', (dev, probe, state) => {
    expect(kvmState(dev, probe).state).toBe(state);
  });
  it('its script runs in a real shell and parses back', () => {
    const out = execFileSync('/bin/sh', ['-c', inspectScript()]).toString();
    const info = parseInspect('local', '127.0.0.1', out);
    expect(info.hostname).toBe(execFileSync('hostname').toString().trim());
    expect(info.kernel).toBe(execFileSync('uname', ['-r']).toString().trim());
    expect(info.detected?.cores).toBeGreaterThan(0);
    expect(info.detected?.memMb).toBeGreaterThan(0);
    expect(info.tools?.socat).toBe(true);
    expect(info.tools?.postgres).toBe(true);
  });
});

describe('vlx exec helpers', () => {
  it.each([
    ['n1', ['n1']],
    ['n1,n3', ['n1', 'n3']],
    ['n1, n3,n1', ['n1', 'n3']],
  ])('--nodes %j', (v, names) => {
    expect(parseNodeList(v)).toEqual(names);
  });
  it.each(['', 'n1,', ',n1', 'n1;rm -rf /', '$(id)', 'N1', 'a b', 'n1,n`x`'])('--nodes %j is invalid input', (v) => {
    expect(() => parseNodeList(v)).toThrow(VlxError);
    try {
      parseNodeList(v);
    } catch (e) {
      expect((e as VlxError).code).toBe('invalid-input');
      expect((e as VlxError).message).toMatch(/^--nodes: /);
    }
  });
  it('prefixes whole lines across chunk boundaries', () => {
    const got: string[] = [];
    const p = new LinePrefixer('n1: ', (s) => got.push(s));
    p.push('a\nb');
    p.push('c\n\nd');
    p.flush();
    p.flush();
    expect(got).toEqual(['n1: a\n', 'n1: bc\n', 'n1: \n', 'n1: d\n']);
  });
  it.each([
    [[{ code: 0 }, { code: 0 }], 0],
    [[{ code: 0 }, { code: 1 }], 1],
    [[{ code: 0 }, { code: -1, error: { code: 'unreachable', message: '' } }], 1],
    [[{ code: -1, error: { code: 'unreachable', message: '' } }], 5],
    [[{ code: -1, error: { code: 'timeout', message: '' } }], 1],
  ])('exit status for %j is %d', (rs, code) => {
    expect(execExitCode(rs)).toBe(code);
  });
});

describe('vlx cluster add: nodes from first contact', () => {
  const manifest = { version: 1, name: 'c', clusterNetwork: '10.77.0.0/24', nodes: [{ name: 'n1', address: '10.77.0.1', cores: 4, memMb: 8192 }, { name: 'n2', address: '10.77.0.2', cores: 4, memMb: 8192 }] };
  it('takes every node from the manifest', () => {
    expect(nodesFromFirstContact('10.77.0.2', `n2\n--vlx-manifest--\n${JSON.stringify(manifest)}\n`)).toEqual({
      nodes: [{ name: 'n1', address: '10.77.0.1' }, { name: 'n2', address: '10.77.0.2' }], fromManifest: true,
    });
  });
  it('knows only the given address when there is no manifest, named after the host', () => {
    expect(nodesFromFirstContact('192.168.1.5', 'Alpha.example.org\n--vlx-manifest--\n')).toEqual({ nodes: [{ name: 'alpha', address: '192.168.1.5' }], fromManifest: false });
    expect(nodesFromFirstContact('192.168.1.5', '9node\n--vlx-manifest--\n').nodes[0].name).toBe('node1');
  });
  it('refuses a manifest with a node name a shell would read', () => {
    const bad = { ...manifest, nodes: [{ ...manifest.nodes[0], name: 'n1;reboot' }] };
    expect(() => nodesFromFirstContact('a', `h\n--vlx-manifest--\n${JSON.stringify(bad)}`)).toThrow(/manifest node name/);
    expect(() => nodesFromFirstContact('a', 'h\n--vlx-manifest--\n{not json')).toThrow(/not valid JSON/);
  });
});
