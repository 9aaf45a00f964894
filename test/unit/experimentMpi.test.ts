import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mpibenchLines } from '../../main/domain/experimentParse.js';
import {
  MPI_ALLREDUCE_SIZES, MPI_SIZES, checkPublicKey, dropbearStartScript, mpiCleanupScript, mpiHostfileScripts, mpiKeygenScript, mpirunScript, readMpi, secondsPerSize,
} from '../../main/domain/experimentMpi.js';
import { CONSOLE_LINE_MAX, experimentsCsv, type ExperimentRow } from '../../main/domain/experiments.js';
import { MPI_PLUGINS, checkMpiPlugins, mpiFileList, mpiParamsFile } from '../../main/images/benchMpi.js';
import { checkMpiMemory, mpiPairs } from '../../main/workflows/experimentMpi.js';
import { checkExperimentRequest } from '../../main/workflows/experiment.js';
import { mpiCharts } from '../../renderer/src/screens/experimentCharts.js';
import type { ExperimentRunInfo } from '../../main/api/contract.js';

/** mpirunScript's output on two tiny-bench guests (TCG, 128 MB each), captured through the serial console. */
const captured = readFileSync(join(import.meta.dirname, 'fixtures/experiments/mpibench-2vm.txt'), 'utf8');

describe('the mpibench reader (real output)', () => {
  it('reads every line of a run, dbclient\'s warning around them ignored', () => {
    const lines = mpibenchLines(captured);
    expect(lines).toHaveLength(MPI_SIZES.length + MPI_ALLREDUCE_SIZES.length);
    expect(lines[0]).toEqual({ kind: 'pingpong', pair: 'across', size: 1, reps: 4, usec: 7087.82, mbps: 0.000141087 });
    expect(lines.at(-1)).toEqual({ kind: 'allreduce', ranks: 2, size: 1048576, reps: 1, usec: 138322 });
  });

  it('stores latency, bandwidth and allreduce rows with their units, every value positive', () => {
    const values = readMpi(captured, { ranks: 2, pairs: ['across'] });
    expect(values).toHaveLength(MPI_SIZES.length * 2 + MPI_ALLREDUCE_SIZES.length);
    expect(values.find((v) => v.probe === 'pingpong latency' && v.param === '1')).toEqual({ probe: 'pingpong latency', target: 'across nodes', param: '1', value: 7087.82, unit: 'us' });
    expect(values.find((v) => v.probe === 'pingpong bandwidth' && v.param === '1048576')).toMatchObject({ target: 'across nodes', value: 10.1202, unit: 'MB/s' });
    expect(values.filter((v) => v.probe === 'allreduce').map((v) => `${v.target}|${v.param}|${v.unit}`)).toEqual(MPI_ALLREDUCE_SIZES.map((n) => `all 2 VMs|${n}|us`));
    for (const v of values) expect(v.value).toBeGreaterThan(0);
  });

  it('a failed mpirun (no "done" line) fails with the output quoted', () => {
    const failed = 'ORTE was unable to reliably start one or more daemons.\nThis usually is caused by:\n* not finding the required libraries\n';
    expect(() => mpibenchLines(failed)).toThrow(/"vlx-mpi done" line not found in the probe's output \(it ended with: ".*not finding the required libraries/);
  });

  it('a missing size, a pair that did not run, a wrong rank count or a garbled line fails, never stored as a number', () => {
    expect(() => readMpi(captured.replace(/^vlx-mpi pingpong across 4096 .*\n/m, ''), { ranks: 2, pairs: ['across'] })).toThrow(/ping-pong across 4096 B not found/);
    expect(() => readMpi(captured, { ranks: 2, pairs: ['across', 'same'] })).toThrow(/ping-pong same 1 B not found/);
    expect(() => readMpi(captured, { ranks: 3, pairs: ['across'] })).toThrow(/allreduce over 3 ranks \(it ran on 2\)/);
    expect(() => mpibenchLines(captured.replace('7087.82', 'nan'))).toThrow(/well-formed mpibench line \(got "vlx-mpi pingpong across 1 4 nan/);
  });
});

describe('mpi scripts', () => {
  const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAMDKm2srLxb1m5YSJVnaiM+rHTKqM1qpju3XpChLGNi root@vm1';

  it('mpirun: one rank per VM in order, dbclient with the run\'s key as the rsh agent, the VC interface, every size', () => {
    const s = mpirunScript({ hosts: ['10.1.0.2', '10.1.0.3', '10.1.0.4'], pairs: { across: [0, 1], same: [0, 2] }, seconds: 5 });
    expect(s).toContain('mpirun --allow-run-as-root --hostfile /tmp/vlx-mpi-hosts -np 3 ');
    expect(mpiHostfileScripts(['10.1.0.2', '10.1.0.3', '10.1.0.4'])).toEqual([`printf '%s\\n' '10.1.0.2 slots=1' '10.1.0.3 slots=1' '10.1.0.4 slots=1' > /tmp/vlx-mpi-hosts`]);
    expect(s.length).toBeLessThanOrEqual(CONSOLE_LINE_MAX);
    expect(s).toContain("--mca plm_rsh_agent 'dbclient -y -y -i /tmp/vlx-mpi-key'");
    expect(s).toContain('--mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0');
    expect(s).toContain(`-s ${MPI_SIZES.join(',')} -p across:0:1 -p same:0:2`);
    // 5 s over 2 pairs × 11 sizes and 9 allreduce sizes.
    expect(s).toContain(`-t ${(5 / 31).toFixed(4)} `);
    expect(secondsPerSize(1, 1)).toBeCloseTo(1 / 20, 9);
  });

  it('a large VC\'s hostfile is written in console commands within the line limit, every VM once and in order', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 2}`);
    const cmds = mpiHostfileScripts(hosts);
    expect(cmds.length).toBeGreaterThan(1);
    for (const c of cmds) expect(c.length).toBeLessThanOrEqual(CONSOLE_LINE_MAX);
    expect(cmds[0]).toMatch(/ > \/tmp\/vlx-mpi-hosts$/);
    for (const c of cmds.slice(1)) expect(c).toMatch(/ >> \/tmp\/vlx-mpi-hosts$/);
    expect(cmds.flatMap((c) => [...c.matchAll(/'([\d.]+) slots=1'/g)].map((m) => m[1]))).toEqual(hosts);
    expect(() => mpiHostfileScripts(['10.1.0.2', "vm2'; reboot"])).toThrow(/hosts\[1\]: must be an IPv4 address or a host name/);
  });

  it('dropbear: key logins only, on the VC address, the run\'s key authorized; the cleanup leaves no server or key', () => {
    const s = dropbearStartScript('10.1.0.3', `${pub}\n`);
    expect(s).toContain(`echo '${pub}' > /root/.ssh/authorized_keys`);
    expect(s).toContain('dropbear -R -s -j -k -P /run/vlx-dropbear.pid -p 10.1.0.3:22');
    expect(s.length).toBeLessThanOrEqual(CONSOLE_LINE_MAX);
    expect(mpiKeygenScript()).toContain('dropbearkey -t ed25519 -f /tmp/vlx-mpi-key');
    const c = mpiCleanupScript();
    for (const part of ['kill $p', '/root/.ssh/authorized_keys', '/tmp/vlx-mpi-key', '/tmp/vlx-mpi-hosts', '/etc/dropbear/*']) expect(c).toContain(part);
  });

  it('bad input names the field and the rule', () => {
    expect(() => checkPublicKey("ssh-ed25519 AAAA'; rm -rf / #")).toThrow(/publicKey: must be one "ssh-ed25519 BASE64 \[comment\]" line/);
    expect(() => dropbearStartScript('10.1.0.3; reboot', pub)).toThrow(/address/);
    expect(() => mpiHostfileScripts(['10.1.0.2'])).toThrow(/hosts: the mpi experiment needs at least 2 VMs/);
    expect(() => mpirunScript({ hosts: ['10.1.0.2'], pairs: {}, seconds: 1 })).toThrow(/hosts: the mpi experiment needs at least 2 VMs/);
    expect(() => mpirunScript({ hosts: ['10.1.0.2', '10.1.0.3'], pairs: { across: [0, 2] }, seconds: 1 })).toThrow(/pairs.across: must be two different ranks from 0 to 1/);
    expect(() => mpirunScript({ hosts: ['10.1.0.2', '10.1.0.3'], pairs: { across: [0, 1] }, seconds: 0 })).toThrow(/seconds: must be a whole number from 1 to 600/);
    expect(() => checkMpiMemory(96)).toThrow(/memMb: the mpi experiment needs VMs of at least 128 MB \(this VC's have 96 MB\)/);
    expect(() => checkMpiMemory(128)).not.toThrow();
    expect(checkExperimentRequest({ kind: 'mpi', vc: 'bench', seconds: 1 }).kind).toBe('mpi');
  });

  it('ranks of the pairs follow the placement: across and same node when it has them, none invented', () => {
    const log: string[] = [];
    const vms = [{ name: 'vm1', node: 'n1' }, { name: 'vm2', node: 'n2' }, { name: 'vm3', node: 'n1' }, { name: 'vm4', node: 'n2' }];
    expect(mpiPairs(vms, (l) => log.push(l))).toEqual({ across: [0, 1], same: [0, 2] });
    expect(mpiPairs(vms.slice(0, 2), (l) => log.push(l))).toEqual({ across: [0, 1] });
    expect(log).toEqual([expect.stringMatching(/^ping-pong same node: no two VMs of this VC share a node/)]);
  });
});

describe('the bench image\'s Open MPI', () => {
  it('the plugin list holds what a TCP run needs; dropping a needed one fails by name', () => {
    expect(() => checkMpiPlugins()).not.toThrow();
    const noTcp = { ...MPI_PLUGINS, btl: ['self', 'vader'] };
    expect(() => checkMpiPlugins(noTcp)).toThrow(/MPI_PLUGINS: must include btl tcp \(messages between VMs\)/);
    const noEnv = { ...MPI_PLUGINS, ess: ['hnp', 'pmi'] };
    expect(() => checkMpiPlugins(noEnv)).toThrow(/ess env \(orted started over rsh\)/);
  });

  it('takes no ucx/ofi/psm/verbs/cuda plugin, and every listed plugin exists on this workstation', () => {
    const { executables, data } = mpiFileList();
    expect(executables.filter((f) => /ucx|ofi|psm|openib|verbs|cuda/.test(f))).toEqual([]);
    expect(executables).toContain('/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/mca_btl_tcp.so');
    expect(executables).toContain('/usr/bin/dbclient');
    expect(data).toContain('/usr/share/openmpi/help-plm-rsh.txt');
  });

  it('the params file pins the frameworks that choose, to exactly the components in the image', () => {
    const p = mpiParamsFile();
    expect(p).toContain('btl = self,vader,tcp\npml = ob1\n');
    expect(p).toContain('plm = rsh\noob = tcp\n');
    expect(p).toContain('hwloc_base_binding_policy = none');
  });
});

describe('mpi charts and CSV', () => {
  const run = (id: number): ExperimentRunInfo => ({ id, taskId: null, kind: 'mpi', vc: 'bench', vcSize: 2, placement: { vm1: 'n1', vm2: 'n2' }, accel: 'tcg', image: 'tiny-bench', seconds: 1, startedAt: '2026-11-30T16:00:00Z', values: 0 });
  const rows: ExperimentRow[] = readMpi(captured, { ranks: 2, pairs: ['across'] }).map((v) => ({
    ...v, runId: 5, kind: 'mpi', vc: 'bench', vcSize: 2, placement: 'vm1@n1 vm2@n2', accel: 'tcg', image: 'tiny-bench', date: '2026-11-30T16:00:00Z',
  }));

  it('one chart per probe, curves by message size on log axes, each chart\'s rows for its CSV', () => {
    const charts = mpiCharts([run(5)], { 5: rows });
    expect(charts.map((c) => c.id)).toEqual(['mpi-latency', 'mpi-bandwidth', 'mpi-allreduce']);
    const [lat, , ar] = charts;
    expect(lat!.config.options!.scales!.x!.type).toBe('logarithmic');
    // Ticks at the measured sizes, labelled as sizes.
    const axis = { ticks: [] as { value: number }[] };
    (lat!.config.options!.scales!.x as unknown as { afterBuildTicks(a: typeof axis): void }).afterBuildTicks(axis);
    expect(axis.ticks.map((t) => t.value)).toEqual([...MPI_SIZES]);
    expect(lat!.config.data.datasets[0]!.data[0]).toEqual({ x: 1, y: 7087.82 });
    expect(lat!.config.data.datasets[0]!.label).toMatch(/^across nodes — #5 bench/);
    expect(ar!.config.data.datasets[0]!.data).toHaveLength(MPI_ALLREDUCE_SIZES.length);
    expect(charts.reduce((n, c) => n + c.rows.length, 0)).toBe(rows.length);
    const csv = experimentsCsv(ar!.rows).trimEnd().split('\r\n');
    expect(csv).toHaveLength(MPI_ALLREDUCE_SIZES.length + 1);
    expect(csv[1]).toBe('5,mpi,allreduce,all 2 VMs,16,25562.5,us,bench,2,vm1@n1 vm2@n2,tcg,tiny-bench,2026-11-30T16:00:00Z');
  });
});
