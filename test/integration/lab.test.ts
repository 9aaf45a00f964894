import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadStore } from '../../main/config/clusters.js';
import { NODE_ETC, NODE_LIB, NODE_RUN, SHARED_ROOT, appPaths } from '../../main/config/paths.js';
import { labCrash, labRevive, labStatus, labUp } from '../../main/lab/index.js';
import { readKnownHosts } from '../../main/ssh/knownHosts.js';
import { holdLabForThisFile, labFiles, labSsh } from './support/lab.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function vlx(...args: string[]): Promise<CliResult> {
  return vlxIn(process.env, ...args);
}

async function vlxIn(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bin/vlx', args, { env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function sh(cmd: string, ...args: string[]): Promise<string> {
  return (await promisify(execFile)(cmd, args)).stdout;
}

const labNetns = async () => (await sh('ip', 'netns', 'list')).split('\n').map((l) => l.split(' ')[0]).filter((n) => n?.startsWith('vlx-')).sort();
const labLinks = async () => (JSON.parse(await sh('ip', '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n === 'vlxlab0' || n.startsWith('vlxn') || n === 'vlxout0').sort();
const netnsPids = async (ns: string) => (await promisify(execFile)('ip', ['netns', 'pids', ns]).then((r) => r.stdout, () => '')).split(/\s+/).filter(Boolean);

/** Processes (not zombies) whose command line names the lab dir. */
function labProcesses(dir: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) found.push(Number(e));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Does anything answer TCP on address:22? A cut link answers nothing: the bound is the timeout. */
function answersTcp(address: string, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port: 22 });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => done(true));
  });
}

const ADDR = ['10.77.0.1', '10.77.0.2', '10.77.0.3', '10.77.0.4'];

describe('lab', () => {
  // Other test runs on this machine share the lab: while this file takes it down and up,
  // their lab operations wait. Our own CLI children get the token through the environment.
  // Whatever happens here, later test files find a 4-node lab.
  holdLabForThisFile();

  it('up twice is harmless: the second up keeps every namespace and sshd', async () => {
    const before = await labStatus();
    expect(before.state).toBe('up');
    const r = await vlx('lab', 'up', '--json');
    expect(r.code, r.stderr).toBe(0);
    const after = JSON.parse(r.stdout) as typeof before;
    expect(after.state).toBe('up');
    expect(after.nodes.map((n) => [n.name, n.pid])).toEqual(before.nodes.map((n) => [n.name, n.pid]));
    expect(await labNetns()).toEqual(['vlx-n1', 'vlx-n2', 'vlx-n3', 'vlx-n4', 'vlx-out']);
  });

  it('the outside: a public test address on the lab bridge, reachable only from that network', async () => {
    // Nothing but its own address and the connected route: it reaches no lab address and no lab address reaches it.
    expect((await sh('ip', '-n', 'vlx-out', '-o', '-4', 'addr', 'show')).match(/inet [0-9./]+/g)).toEqual(['inet 127.0.0.1/8', 'inet 203.0.113.1/24']);
    expect((await sh('ip', '-n', 'vlx-out', '-4', 'route', 'show')).trim()).toBe('203.0.113.0/24 dev eth0 proto kernel scope link src 203.0.113.1');
    // A node with an address of the public network reaches its listener, which answers with the source it saw.
    const r = await labSsh(ADDR[1]!, 'ip addr add 203.0.113.77/24 dev eth0 && echo | busybox nc -w 2 203.0.113.1 18080; ip addr del 203.0.113.77/24 dev eth0');
    expect(r.stdout.trim(), r.stderr).toBe('203.0.113.77');
    // The manifest carries the public side, so `vlx services deploy` sets it up.
    const m = JSON.parse((await labSsh(ADDR[0]!, `cat ${SHARED_ROOT}/manifest.json`)).stdout) as { gateway?: { public?: unknown } };
    expect(m.gateway?.public).toEqual({ ip: '203.0.113.2', netmask: '255.255.255.0', router: '203.0.113.1' });
  });

  it('status reports every node with its namespace, link, sshd and address', async () => {
    const r = await vlx('lab', 'status', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Awaited<ReturnType<typeof labStatus>>;
    expect(s.nodes.map((n) => [n.name, n.address, n.netns, n.link, n.sshd])).toEqual(
      ADDR.map((a, i) => [`n${i + 1}`, a, true, 'up', true]),
    );
  });

  it('each node answers over SSH (host key checked) with its own hostname', async () => {
    const names = await Promise.all(ADDR.map(async (a) => {
      const r = await labSsh(a, 'hostname');
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    }));
    expect(names).toEqual(['n1', 'n2', 'n3', 'n4']);
  });

  it('a host key that is not the node\'s own is refused (the check is real)', async () => {
    const { knownHosts } = labFiles();
    const lines = readFileSync(knownHosts, 'utf8').trim().split('\n');
    // n1's address paired with n2's key: ssh must refuse.
    const swapped = `${lines[0]!.split(' ')[0]} ${lines[1]!.split(' ').slice(1).join(' ')}\n`;
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/vlx-kh-');
    writeFileSync(`${dir}/kh`, swapped);
    const ssh = (knownHosts: string) => promisify(execFile)('ssh', ['-i', labFiles().key, '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', 'root@10.77.0.1', 'echo in'])
      .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number; stdout: string; stderr: string }) => e);
    const refused = await ssh(`${dir}/kh`);
    // The same command with the lab's own known-hosts file gets in: n1 was reachable all along.
    const control = await ssh(knownHosts);
    rmSync(dir, { recursive: true, force: true });
    expect(control.code, control.stderr).toBe(0);
    expect(control.stdout).toBe('in\n');
    // 255 is also what ssh returns when it cannot connect at all: the reason must be the key.
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
    expect(refused.stderr).toMatch(/Host key verification failed/);
  });

  it('the app knows the lab: cluster "lab" is current and the known hosts hold each node key', () => {
    const store = loadStore();
    expect(store.current).toBe('lab');
    const lab = store.clusters.lab!;
    expect(lab).toMatchObject({ name: 'lab', user: 'root', lab: true, keyFile: labFiles().key });
    expect(lab.nodes).toEqual(ADDR.map((address, i) => ({ name: `n${i + 1}`, address })));
    const known = readKnownHosts(appPaths.knownHosts());
    for (const [i, a] of ADDR.entries()) {
      const pub = readFileSync(`${labStatusDir()}/nodes/n${i + 1}/ssh_host_ed25519_key.pub`, 'utf8').split(' ')[1];
      expect(known.get(a)?.map((k) => k.keyBase64)).toEqual([pub]);
    }
  });

  it('shared storage is one directory on all nodes; /run/virtualinux is private to each', async () => {
    const token = `t${process.pid}-${Date.now()}`;
    expect((await labSsh(ADDR[0]!, `echo ${token} > ${SHARED_ROOT}/lab-test && echo ${token} > ${NODE_RUN}/mine`)).code).toBe(0);
    expect((await labSsh(ADDR[2]!, `cat ${SHARED_ROOT}/lab-test`)).stdout.trim()).toBe(token);
    const other = await labSsh(ADDR[2]!, `cat ${NODE_RUN}/mine`);
    expect(other.code).not.toBe(0);
    expect((await labSsh(ADDR[0]!, `cat ${NODE_RUN}/mine; rm ${SHARED_ROOT}/lab-test ${NODE_RUN}/mine`)).stdout.trim()).toBe(token);
    // Node mounts never leak out of their namespaces.
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(labStatusDir());
  });

  it('each node has node.json with declared capacity, a root home with no .bashrc, and forwarding on', async () => {
    for (const [i, a] of ADDR.entries()) {
      const r = await labSsh(a, `cat ${NODE_ETC}/node.json; echo; ls -A ~; cat /proc/sys/net/ipv4/ip_forward; test -d ${NODE_LIB} && echo lib`);
      expect(r.code, r.stderr).toBe(0);
      const [json, ...rest] = r.stdout.split('\n\n');
      expect(JSON.parse(json!)).toEqual({ name: `n${i + 1}`, cores: 4, memMb: 8192 });
      const lines = rest.join('\n').trim().split('\n');
      // Tools leave things in a home (.bash_history, .ansible); what matters is no shell init file.
      expect(lines).toContain('.ssh');
      expect(lines.filter((l) => ['.bashrc', '.profile', '.bash_profile'].includes(l))).toEqual([]);
      expect(lines.slice(-2)).toEqual(['1', 'lib']);
    }
    const manifest = JSON.parse(readFileSync(`${labStatusDir()}/shared/manifest.json`, 'utf8'));
    expect(manifest).toMatchObject({ version: 1, name: 'lab', clusterNetwork: '10.77.0.0/24' });
    expect(manifest.nodes).toHaveLength(4);
  });

  it('each node has a /run of its own: the same pid file path on two nodes does not collide', async () => {
    for (const a of [ADDR[0]!, ADDR[1]!]) {
      const r = await labSsh(a, 'test -e /run/vlx-lab-test && echo taken || (hostname > /run/vlx-lab-test && echo mine); test -d /run/sshd && echo sshd');
      expect(r.stdout.trim().split('\n')).toEqual(['mine', 'sshd']);
    }
    expect(existsSync('/run/vlx-lab-test')).toBe(false);
    await Promise.all([ADDR[0]!, ADDR[1]!].map((a) => labSsh(a, 'rm -f /run/vlx-lab-test')));
  });

  it('crash n2: nothing of it runs or answers; the others are fine', async () => {
    const r = await vlx('lab', 'crash', 'n2', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'n2', link: 'down', sshd: false });
    expect(await netnsPids('vlx-n2')).toEqual([]);
    expect(await answersTcp('10.77.0.2')).toBe(false);
    expect((await labSsh('10.77.0.2', 'true', 2)).code).toBe(255);
    for (const a of [ADDR[0]!, ADDR[2]!, ADDR[3]!]) expect((await labSsh(a, 'true')).code).toBe(0);
    const s = await vlx('lab', 'status');
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(/^lab degraded/);
  });

  it('revive n2: answers again, same host key and hostname, /run empty like after a power cut but for the database member it starts', async () => {
    const r = await vlx('lab', 'revive', 'n2');
    expect(r.code, r.stderr).toBe(0);
    // Strict checking against the keys recorded before the crash: same identity or refusal.
    // n2 is a database member: revive starts its etcd and Patroni again, and the node's HA
    // watchdog; their pid files (and the watchdog's log) are the only things in /run.
    const h = await labSsh('10.77.0.2', `hostname; ls -A ${NODE_RUN} | grep -vxE 'etcd\\.pid|patroni\\.pid|watchdog\\.(pid|log|err)' || true`);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout.trim().split('\n')).toEqual(['n2']);
    expect((await labStatus()).state).toBe('up');
  });

  it('crash and revive through the exported API', async () => {
    expect(await labCrash('n3')).toMatchObject({ name: 'n3', netns: true, link: 'down', sshd: false });
    expect((await labStatus()).state).toBe('degraded');
    expect(await labRevive('n3')).toMatchObject({ name: 'n3', link: 'up', sshd: true });
    expect((await labSsh('10.77.0.3', 'hostname')).stdout.trim()).toBe('n3');
  });

  it('up heals a crashed node', async () => {
    await labCrash('n4');
    const s = await labUp({ nodes: 4 });
    expect(s.state).toBe('up');
    expect((await labSsh('10.77.0.4', 'hostname')).stdout.trim()).toBe('n4');
  });

  it.each([
    [['lab', 'up', '--nodes', '0'], 2, '--nodes: must be a whole number from 1 to 32'],
    [['lab', 'up', '--nodes', '1000'], 2, '--nodes: must be a whole number from 1 to 32'],
    [['lab', 'up', '--nodes', 'abc'], 2, '--nodes: must be a whole number from 1 to 32'],
    [['lab', 'up', '--cores', '-1'], 2, '--cores: must be a whole number'],
    [['lab', 'crash', 'n1;reboot'], 2, 'NODE: must be 1-32 chars'],
    [['lab', 'revive', '$(reboot)'], 2, 'NODE: must be 1-32 chars'],
    [['lab', 'crash', 'n9'], 3, '"n9" is not a node of the lab (n1..n4)'],
    [['lab', 'up', '--nodes', '5'], 4, 'a lab of 4 nodes is running; asked for 5'],
  ])('vlx %j with a running lab → exit %i, clear error, nothing changed', async (args, code, message) => {
    const before = [await labNetns(), await labLinks(), (await labStatus()).nodes.map((n) => n.pid)];
    const r = await vlx(...args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect([await labNetns(), await labLinks(), (await labStatus()).nodes.map((n) => n.pid)]).toEqual(before);
  });

  it.each([
    [['lab', 'up'], 'the lab needs root'],
    [['lab', 'crash', 'n1'], 'the lab needs root'],
    [['lab', 'down'], 'the lab needs root'],
  ])('vlx %j as a user other than root → exit 7 (not-root), lab untouched', async (args, message) => {
    const before = (await labStatus()).nodes.map((n) => n.pid);
    const r = await promisify(execFile)('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', 'dist/vlx.mjs', ...args], {
      env: { ...process.env, HOME: '/tmp', VLX_HOME: '/tmp/vlx-not-root' },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(message);
    expect((await labStatus()).nodes.map((n) => n.pid)).toEqual(before);
  });

  describe('down', () => {
    let created: string[] = [];
    let keysBefore = '';

    it('leaves no namespace, link, mount, process or host mountpoint, and unregisters the lab', async () => {
      const dir = labStatusDir();
      created = (JSON.parse(readFileSync(`${dir}/lab.json`, 'utf8')) as { createdMountpoints: string[] }).createdMountpoints;
      keysBefore = readFileSync(labFiles().knownHosts, 'utf8');
      const r = await vlx('lab', 'down');
      expect(r.code, r.stderr).toBe(0);
      expect(await labNetns()).toEqual([]);
      expect(await labLinks()).toEqual([]);
      expect(labProcesses(dir)).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
      for (const m of created) expect(existsSync(m), m).toBe(false);
      expect(loadStore().clusters.lab).toBeUndefined();
      expect((await labStatus()).state).toBe('down');
      expect((await vlx('lab', 'status')).code).toBe(1);
    });

    it.each([
      [['lab', 'up', '--nodes', '0'], 2],
      [['lab', 'up', '--nodes', '1000'], 2],
      [['lab', 'up', '--nodes', 'abc'], 2],
      [['lab', 'crash', 'n1;reboot'], 2],
      [['lab', 'crash', 'n1'], 3],
    ])('with no lab, vlx %j → exit %i and creates nothing', async (args, code) => {
      const dir = labStatusDir();
      const r = await vlx(...args);
      expect(r.code).toBe(code);
      expect(await labNetns()).toEqual([]);
      expect(await labLinks()).toEqual([]);
      expect(existsSync(`${dir}/lab.json`)).toBe(false);
      for (const m of created) expect(existsSync(m), m).toBe(false);
    });

    it('down on no lab is harmless', async () => {
      expect((await vlx('lab', 'down')).code).toBe(0);
    });

    it('down --purge also removes the lab dir (a lab of its own, in a scratch dir)', async () => {
      const dir = `/tmp/vlx-lab-purge-${process.pid}`;
      const env = { ...process.env, VLX_LAB_DIR: dir };
      // While another dir's lab runs, a scratch lab refuses to adopt its namespaces.
      await labUp({ nodes: 4 });
      const refused = await vlxIn(env, 'lab', 'up');
      expect(refused.code).toBe(4);
      expect(refused.stderr).toContain(`lab namespaces are running (n1, n2, n3, n4) that ${dir} does not describe`);
      expect((await vlx('lab', 'down')).code).toBe(0);

      const up = await vlxIn(env, 'lab', 'up', '--json');
      expect(up.code, up.stderr).toBe(0);
      expect(JSON.parse(up.stdout)).toMatchObject({ state: 'up', labDir: dir });
      expect(existsSync(`${dir}/id_ed25519`)).toBe(true);
      const down = await vlxIn(env, 'lab', 'down', '--purge', '--json');
      expect(down.code, down.stderr).toBe(0);
      expect(JSON.parse(down.stdout)).toMatchObject({ namespaces: ['vlx-n1', 'vlx-n2', 'vlx-n3', 'vlx-n4', 'vlx-out'], purged: true });
      expect(existsSync(dir)).toBe(false);
      expect(await labNetns()).toEqual([]);
      expect(await labLinks()).toEqual([]);
      expect(labProcesses(dir)).toEqual([]);
    });

    it('up after down: the same node identities come back', async () => {
      const s = await labUp({ nodes: 4 });
      expect(s.state).toBe('up');
      const names = await Promise.all(ADDR.map(async (a) => (await labSsh(a, 'hostname')).stdout.trim()));
      expect(names).toEqual(['n1', 'n2', 'n3', 'n4']);
      expect(readFileSync(labFiles().knownHosts, 'utf8')).toBe(keysBefore);
      expect(loadStore().current).toBe('lab');
    });
  });
});

function labStatusDir(): string {
  return labFiles().key.replace(/\/id_ed25519$/, '');
}
