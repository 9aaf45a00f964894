import { VlxError } from '../errors.js';
import type { NodeConn } from '../ssh/types.js';
import type { SerialConsole } from '../vm/serial.js';
import {
  GUEST_BENCH_MOUNT, MESSAGE_SIZES, OS_PROBES, STORAGE_MODES, SWITCHES_PER_EVENT, SYSCALLS_PER_EVENT,
  guestDiskPrepScript, iperfServerScript, iperfStopScript, networkClientScript, osOverheadScript, osProbeFileScripts, storageScript,
  type ExperimentValue, type NetworkPair,
} from '../domain/experiments.js';
import { iperf3Receiver, pingAverage, sections, sysbenchFileio, sysbenchMemory, sysbenchRate } from '../domain/experimentParse.js';

/**
 * The probes of each kind, run on a node over SSH and in a guest through its serial console,
 * read into values. A probe's output that does not parse fails the run (parse errors quote it):
 * a broken tool is never stored as a number.
 */

/** Something that runs a shell line and answers its output: a node or a guest. */
export interface Runner {
  label: string;
  run(command: string, timeoutMs: number): Promise<string>;
  /** busybox's ping on both sides, so latency is measured by the same binary. */
  ping: string;
  address: string;
}

export function nodeRunner(conn: NodeConn): Runner {
  return {
    label: conn.name, address: conn.address, ping: 'busybox ping',
    async run(command, timeoutMs) {
      const r = await conn.exec(command, { timeoutMs });
      if (r.code !== 0 && !r.stdout.trim()) throw new VlxError('remote-failed', `${conn.name}: probe exited ${r.code}: ${r.stderr.trim().slice(-300)}`);
      return r.stdout;
    },
  };
}

export function guestRunner(label: string, address: string, serial: SerialConsole): Runner {
  return {
    label, address, ping: 'ping',
    async run(command, timeoutMs) {
      try {
        return (await serial.run(command, timeoutMs)).output;
      } catch (e) {
        // A probe that hangs keeps the guest's shell: Ctrl-C gives the prompt back to the next command (and to a person).
        serial.write('\x03\n');
        throw e;
      }
    },
  };
}

export type Log = (line: string) => void;
export type Progress = (fraction: number, note: string) => void;

const slack = (seconds: number, probes: number): number => (probes * seconds + 90) * 1000;

// ---------------------------------------------------------------- os-overhead

export function readOsOverhead(text: string, target: string): ExperimentValue[] {
  const s = sections(text);
  const get = (name: string): string => {
    const v = s.get(name);
    if (v === undefined) throw new VlxError('remote-failed', `${target}: the ${name} probe printed nothing (output: ${JSON.stringify(text.slice(-300))})`);
    return v;
  };
  return OS_PROBES.map(({ probe, unit }) => {
    const out = get(probe);
    const value = probe === 'memory' ? sysbenchMemory(out)
      : probe === 'syscall' ? sysbenchRate(out) * SYSCALLS_PER_EVENT
        : probe === 'context-switch' ? sysbenchRate(out) * SWITCHES_PER_EVENT
          : sysbenchRate(out);
    return { probe, target, param: '', value, unit };
  });
}

export async function runOsOverhead(node: Runner, vm: Runner, seconds: number, log: Log, progress: Progress): Promise<ExperimentValue[]> {
  const script = osOverheadScript(seconds);
  const measureOn = async (r: Runner): Promise<string> => {
    for (const write of osProbeFileScripts()) await r.run(write, 30_000);
    return r.run(script, slack(seconds, OS_PROBES.length));
  };
  progress(0, `node ${node.label}`);
  const host = readOsOverhead(await measureOn(node), 'node');
  log(`node ${node.label}: ${host.map((v) => `${v.probe} ${v.value.toFixed(1)} ${v.unit}`).join(', ')}`);
  progress(0.5, `vm ${vm.label}`);
  const guest = readOsOverhead(await measureOn(vm), 'vm');
  log(`vm ${vm.label}: ${guest.map((v) => `${v.probe} ${v.value.toFixed(1)} ${v.unit}`).join(', ')}`);
  return [...host, ...guest];
}

// ---------------------------------------------------------------- network

export interface PairPlan {
  pair: NetworkPair;
  client: Runner;
  /** undefined: a peer we cannot start a server on (the outside): latency, and bandwidth only if a server answers. */
  server?: Runner;
  peer: string;
}

export function readNetwork(text: string, pair: string, wantBandwidth: boolean): { values: ExperimentValue[]; noServer: boolean } {
  const s = sections(text);
  const values: ExperimentValue[] = [{ probe: 'latency', target: pair, param: '', value: pingAverage(s.get('ping') ?? ''), unit: 'ms' }];
  let noServer = false;
  if (wantBandwidth) {
    for (const size of MESSAGE_SIZES) {
      const out = s.get(`bw:${size}`) ?? '';
      if (/Connection refused|unable to connect|timed out|No route/i.test(out)) { noServer = true; break; }
      values.push({ probe: 'bandwidth', target: pair, param: String(size), value: iperf3Receiver(out), unit: 'Mbit/s' });
    }
  }
  return { values, noServer };
}

export async function runNetwork(plans: PairPlan[], seconds: number, log: Log, progress: Progress): Promise<ExperimentValue[]> {
  const values: ExperimentValue[] = [];
  for (const [i, p] of plans.entries()) {
    progress(i / plans.length, `${p.pair}: ${p.client.label} → ${p.peer}`);
    if (p.server) await p.server.run(iperfServerScript(), 30_000);
    try {
      if (!p.server) {
        // The outside is not ours: unreachable (no gateway deployed) is a finding, not a failed run.
        const ping = await p.client.run(networkClientScript(p.peer, seconds, { ping: p.client.ping, bandwidth: false }), 60_000);
        if (!/ [1-9]\d* packets received/.test(ping)) {
          log(`${p.pair}: ${p.peer} does not answer ping from ${p.client.label} (is the gateway deployed? \`vlx services deploy\`): skipped`);
          continue;
        }
      }
      const text = await p.client.run(networkClientScript(p.peer, seconds, { ping: p.client.ping, bandwidth: true }), slack(seconds, MESSAGE_SIZES.length));
      const r = readNetwork(text, p.pair, true);
      if (r.noServer) log(`${p.pair}: no iperf3 server answers at ${p.peer}: latency only`);
      values.push(...r.values);
      log(`${p.pair} (${p.client.label} → ${p.peer}): ${r.values.map((v) => `${v.probe}${v.param ? ` ${v.param} B` : ''} ${v.value.toFixed(2)} ${v.unit}`).join(', ')}`);
    } finally {
      if (p.server) await p.server.run(iperfStopScript(), 30_000).catch(() => undefined);
    }
  }
  return values;
}

// ---------------------------------------------------------------- storage

export function readStorage(text: string, target: string): ExperimentValue[] {
  const s = sections(text);
  return STORAGE_MODES.map((m) => ({ probe: m, target, param: '', value: sysbenchFileio(s.get(m) ?? ''), unit: 'MiB/s' }));
}

export interface StoragePlan {
  vm: Runner;
  node: Runner;
  /** On the node, on the file system the overlays live on (the shared storage's root). */
  rawDir: string;
  /** In the guest, on the VC's shared directory. */
  sharedDir: string;
}

export async function runStorage(p: StoragePlan, seconds: number, log: Log, progress: Progress): Promise<ExperimentValue[]> {
  const t = slack(seconds, STORAGE_MODES.length);
  const values: ExperimentValue[] = [];
  progress(0, `vm overlay (${p.vm.label})`);
  const prep = await p.vm.run(guestDiskPrepScript(), 60_000);
  if (!prep.includes('vlx-disk-ok')) throw new VlxError('remote-failed', `${p.vm.label}: could not make a file system on its overlay disk /dev/vda: ${prep.trim().slice(-300)}`);
  values.push(...readStorage(await p.vm.run(storageScript(`${GUEST_BENCH_MOUNT}/fileio`, seconds), t), 'vm overlay'));
  progress(1 / 3, `vc shared (${p.vm.label})`);
  const mounted = await p.vm.run(`grep -q ' /shared ' /proc/mounts && echo vlx-shared-ok`, 30_000);
  if (mounted.includes('vlx-shared-ok')) values.push(...readStorage(await p.vm.run(storageScript(p.sharedDir, seconds), t), 'vc shared'));
  else log(`${p.vm.label}: the VC's shared directory is not mounted in the guest: skipped`);
  progress(2 / 3, `node raw (${p.node.label})`);
  values.push(...readStorage(await p.node.run(storageScript(p.rawDir, seconds), t), 'node raw'));
  for (const v of values) log(`${v.target} ${v.probe}: ${v.value.toFixed(1)} ${v.unit}`);
  return values;
}
