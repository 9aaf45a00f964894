import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { execFileSync } from 'node:child_process';
import {
  ROUTE_LIST_ARGV, desiredRoutes, diffRoutes, parseRoutes, planRoutes, routeArgv, type Route,
} from '../../main/network/routes.js';


const nodes = [
  { name: 'n1', address: '10.77.0.1' },
  { name: 'n2', address: '10.77.0.2' },
  { name: 'n3', address: '10.77.0.3' },
];
const vms = [
  { ip: '10.200.0.3', node: 'n2', tap: 'vt0ac80003' },
  { ip: '10.200.0.2', node: 'n1', tap: 'vt0ac80002' },
  { ip: '10.200.1.2', node: 'n1', tap: 'vt0ac80102' },
];

describe('desiredRoutes', () => {
  it('routes each VM to its tap on its node and via that node everywhere else', () => {
    expect(desiredRoutes(vms, nodes, ['lab-host'])).toEqual({
      n1: [
        { dst: '10.200.0.2/32', dev: 'vt0ac80002' },
        { dst: '10.200.0.3/32', via: '10.77.0.2' },
        { dst: '10.200.1.2/32', dev: 'vt0ac80102' },
      ],
      n2: [
        { dst: '10.200.0.2/32', via: '10.77.0.1' },
        { dst: '10.200.0.3/32', dev: 'vt0ac80003' },
        { dst: '10.200.1.2/32', via: '10.77.0.1' },
      ],
      n3: [
        { dst: '10.200.0.2/32', via: '10.77.0.1' },
        { dst: '10.200.0.3/32', via: '10.77.0.2' },
        { dst: '10.200.1.2/32', via: '10.77.0.1' },
      ],
      'lab-host': [
        { dst: '10.200.0.2/32', via: '10.77.0.1' },
        { dst: '10.200.0.3/32', via: '10.77.0.2' },
        { dst: '10.200.1.2/32', via: '10.77.0.1' },
      ],
    });
  });
  it('gives every host a key even without VMs', () => {
    expect(desiredRoutes([], nodes)).toEqual({ n1: [], n2: [], n3: [] });
  });
  it('sorts by address numerically, not as text', () => {
    const r = desiredRoutes([
      { ip: '10.200.0.10', node: 'n1', tap: 'a' },
      { ip: '10.200.0.9', node: 'n1', tap: 'b' },
    ], nodes);
    expect(r.n1.map((x) => x.dst)).toEqual(['10.200.0.9/32', '10.200.0.10/32']);
  });
  it.each([
    ['unknown node', [{ ip: '10.200.0.2', node: 'n9', tap: 'vt1' }], nodes, [], 'VM node: must be a node of the cluster (got "n9")'],
    ['duplicate address', [vms[0], { ...vms[0], tap: 'vt2' }], nodes, [], 'VM address: must be unique in the cluster (got "10.200.0.3")'],
    ['bad address', [{ ip: '10.200.0.300', node: 'n1', tap: 'vt1' }], nodes, [], 'VM address: must be an IPv4 address (got "10.200.0.300")'],
    ['long tap', [{ ip: '10.200.0.2', node: 'n1', tap: 'vt0123456789abcd' }], nodes, [], 'tap name: must be 1-15 chars of letters, digits, ".", "_" or "-" (got "vt0123456789abcd")'],
    ['shell in tap', [{ ip: '10.200.0.2', node: 'n1', tap: 'a;b' }], nodes, [], 'tap name: must be 1-15 chars of letters, digits, ".", "_" or "-" (got "a;b")'],
    ['node by name only', [], [{ name: 'n1', address: 'node1.lab' }], [], 'address of n1: must be an IPv4 address to route via (got "node1.lab")'],
    ['duplicate node', [], [nodes[0], nodes[0]], [], 'node name: must be unique (got "n1")'],
    ['extra host named like a node', [], nodes, ['n2'], 'host name: must differ from every node name and each other (got "n2")'],
  ])('refuses %s', (_n, v, ns, extra, message) => {
    expect(outcome(() => desiredRoutes(v, ns, extra))).toEqual({ code: 'invalid-input', message });
  });
});

describe('parseRoutes', () => {
  it.each([
    ['empty output', '', []],
    ['empty list', '[]\n', []],
    ['a tap route', '[{"dst":"10.200.0.2","dev":"vt0ac80002","scope":"link","flags":[]}]', [{ dst: '10.200.0.2/32', dev: 'vt0ac80002' }]],
    ['a via route keeps the gateway, not the resolved dev',
      '[{"dst":"10.200.0.3","gateway":"10.77.0.2","dev":"eth0","flags":[]}]', [{ dst: '10.200.0.3/32', via: '10.77.0.2' }]],
    ['a prefix route keeps its length', '[{"dst":"10.200.4.0/24","dev":"x","flags":[]}]', [{ dst: '10.200.4.0/24', dev: 'x' }]],
    ['sorted by address', '[{"dst":"10.200.0.10","dev":"a"},{"dst":"10.200.0.9","dev":"b"}]',
      [{ dst: '10.200.0.9/32', dev: 'b' }, { dst: '10.200.0.10/32', dev: 'a' }]],
  ])('%s', (_n, json, want) => {
    expect(parseRoutes(json)).toEqual(want);
  });
  it.each(['not json', '{"dst":"x"}'])('refuses %j', (text) => {
    expect(outcome(() => parseRoutes(text))).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^route list: /) });
  });
});

describe('diffRoutes', () => {
  const a: Route = { dst: '10.200.0.2/32', dev: 'vt0ac80002' };
  const aVia: Route = { dst: '10.200.0.2/32', via: '10.77.0.1' };
  const b: Route = { dst: '10.200.0.3/32', via: '10.77.0.2' };
  const bOther: Route = { dst: '10.200.0.3/32', via: '10.77.0.3' };
  const rep = (r: Route) => ({ action: 'replace', route: r, argv: routeArgv('replace', r) });
  const del = (r: Route) => ({ action: 'delete', route: r, argv: routeArgv('delete', r) });
  it.each([
    ['nothing to nothing', [], [], []],
    ['in step', [a, b], [b, a], []],
    ['adds missing', [], [a, b], [rep(a), rep(b)]],
    ['removes stale', [a, b], [], [del(a), del(b)]],
    ['tap to via (the VM left this node)', [a], [aVia], [rep(aVia)]],
    ['via to tap (the VM arrived)', [aVia], [a], [rep(a)]],
    ['via to another node', [b], [bOther], [rep(bOther)]],
    ['tap to another tap', [a], [{ ...a, dev: 'vtx' }], [rep({ ...a, dev: 'vtx' })]],
    ['replaces before deleting', [b], [a], [rep(a), del(b)]],
  ] as const)('%s', (_n, cur, want, changes) => {
    expect(diffRoutes(cur, want)).toEqual(changes);
  });
  it('builds iproute2 argv tagged with our protocol', () => {
    expect(routeArgv('replace', a)).toEqual(['ip', 'route', 'replace', '10.200.0.2/32', 'dev', 'vt0ac80002', 'proto', '77']);
    expect(routeArgv('replace', b)).toEqual(['ip', 'route', 'replace', '10.200.0.3/32', 'via', '10.77.0.2', 'proto', '77']);
    expect(routeArgv('delete', b)).toEqual(['ip', 'route', 'del', '10.200.0.3/32', 'proto', '77']);
    expect(ROUTE_LIST_ARGV).toEqual(['ip', '-j', 'route', 'show', 'proto', '77']);
  });
});

describe('planRoutes', () => {
  const before = desiredRoutes(vms, nodes, ['lab-host']);
  it('a VM moving from n2 to n3 changes exactly one route on every host', () => {
    const after = desiredRoutes(vms.map((v) => (v.ip === '10.200.0.3' ? { ...v, node: 'n3' } : v)), nodes, ['lab-host']);
    const plan = planRoutes(before, after);
    expect(Object.fromEntries(Object.entries(plan).map(([h, cs]) => [h, cs.map((c) => c.argv.join(' '))]))).toEqual({
      'lab-host': ['ip route replace 10.200.0.3/32 via 10.77.0.3 proto 77'],
      n1: ['ip route replace 10.200.0.3/32 via 10.77.0.3 proto 77'],
      n2: ['ip route replace 10.200.0.3/32 via 10.77.0.3 proto 77'],
      n3: ['ip route replace 10.200.0.3/32 dev vt0ac80003 proto 77'],
    });
  });
  it('nothing to do when in step', () => {
    expect(planRoutes(before, before)).toEqual({});
  });
  it('a host missing from desired loses all our routes; a new host gets all', () => {
    const plan = planRoutes({ old: [{ dst: '10.200.0.2/32', via: '10.77.0.1' }] }, { fresh: before.n3 });
    expect(plan.old.map((c) => c.action)).toEqual(['delete']);
    expect(plan.fresh.map((c) => c.action)).toEqual(['replace', 'replace', 'replace']);
  });
  it('stopping a VC removes its routes and leaves the others', () => {
    const after = desiredRoutes(vms.filter((v) => v.ip.startsWith('10.200.1.')), nodes, ['lab-host']);
    const plan = planRoutes(before, after);
    for (const h of ['n1', 'n2', 'n3', 'lab-host']) {
      expect(plan[h].map((c) => `${c.action} ${c.route.dst}`), h).toEqual(['delete 10.200.0.2/32', 'delete 10.200.0.3/32']);
    }
  });
});

describe('against the kernel (a throwaway network namespace)', () => {
  const ns = `vlxtest-routes-${process.pid}`;
  const inNs = (argv: readonly string[]) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    // Taps, as on a node (this kernel has no dummy or veth module); no carrier is fine for routes.
    inNs(['ip', 'tuntap', 'add', 'dev', 'eth0', 'mode', 'tap']);
    inNs(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'eth0']);
    inNs(['ip', 'link', 'set', 'eth0', 'up']);
    for (const tap of ['vt0ac80002', 'vt0ac80102', 'vt0ac80003']) {
      inNs(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      inNs(['ip', 'link', 'set', tap, 'up']);
    }
    // A route of someone else's that no diff of ours may touch.
    inNs(['ip', 'route', 'add', '10.200.0.9/32', 'via', '10.77.0.9']);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
  });
  const current = () => parseRoutes(inNs(ROUTE_LIST_ARGV));
  const converge = (want: Route[]) => {
    for (const c of diffRoutes(current(), want)) inNs(c.argv);
    expect(current()).toEqual(want);
    expect(diffRoutes(current(), want)).toEqual([]);
  };

  it('applying a diff converges, for start, move and stop, and leaves foreign routes alone', () => {
    const start = desiredRoutes(vms, nodes).n1;
    converge(start);
    const moved = desiredRoutes(vms.map((v) => (v.ip === '10.200.0.2' ? { ...v, node: 'n3' } : v)), nodes).n1;
    converge(moved);
    const arrived = desiredRoutes(vms.map((v) => (v.ip === '10.200.0.3' ? { ...v, node: 'n1' } : v)), nodes).n1;
    converge(arrived);
    converge([]);
    expect(inNs(['ip', 'route', 'show', '10.200.0.9/32'])).toMatch(/via 10\.77\.0\.9/);
  });
});
