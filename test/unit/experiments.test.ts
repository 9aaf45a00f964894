import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iperf3Receiver, pingAverage, sections, sysbenchFileio, sysbenchMemory, sysbenchRate, sysbenchTotals } from '../../main/domain/experimentParse.js';
import {
  CONSOLE_LINE_MAX, CSV_COLUMNS, MESSAGE_SIZES, checkKind, osProbeFileScripts, pickPairs, checkSeconds, experimentsCsv, guestDiskPrepScript, networkClientScript, osOverheadScript, ratios, storageScript,
  type ExperimentRow,
} from '../../main/domain/experiments.js';
import { readNetwork, readOsOverhead, readStorage } from '../../main/workflows/experimentKinds.js';
import { checkExperimentRequest } from '../../main/workflows/experiment.js';
import { lddPaths } from '../../main/images/bench.js';
import { contract } from '../../main/api/contract.js';
import { placementText } from '../../main/cluster/experimentsRepo.js';

/** Output captured from the real tools on Debian 12 (sysbench 1.0.20, iperf3 3.12, busybox 1.35). */
const fx = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures/experiments', name), 'utf8');

describe('probe output parsers (real output)', () => {
  it('sysbench cpu, threads and the Lua syscall probe: events over total time', () => {
    expect(sysbenchTotals(fx('sysbench-cpu.txt'))).toEqual({ seconds: 1.0095, events: 2398 });
    expect(sysbenchRate(fx('sysbench-cpu.txt'))).toBeCloseTo(2398 / 1.0095, 6);
    expect(sysbenchRate(fx('sysbench-threads.txt'))).toBeCloseTo(1722 / 1.0003, 6);
    expect(sysbenchRate(fx('sysbench-syscall.txt'))).toBeGreaterThan(1000);
  });

  it('sysbench memory: MiB/sec of the summary line', () => {
    expect(sysbenchMemory(fx('sysbench-memory.txt'))).toBe(5212.37);
  });

  it('sysbench fileio: the MiB/s of the mode that ran, read or written', () => {
    expect(sysbenchFileio(fx('sysbench-fileio-rndrd.txt'))).toBe(217.33);
    expect(sysbenchFileio(fx('sysbench-fileio-seqwr.txt'))).toBe(257.04);
  });

  it('iperf3: the receiver line, in Mbit/s, whatever unit iperf3 chose', () => {
    expect(iperf3Receiver(fx('iperf3-client.txt'))).toBe(13124);
    const g = fx('iperf3-client.txt').replace('13124 Mbits/sec                  receiver', '1.5 Gbits/sec                  receiver');
    expect(iperf3Receiver(g)).toBe(1500);
    const k = fx('iperf3-client.txt').replace('13124 Mbits/sec                  receiver', '800 Kbits/sec                  receiver');
    expect(iperf3Receiver(k)).toBeCloseTo(0.8, 9);
  });

  it('ping: the average RTT of busybox and of iputils', () => {
    expect(pingAverage(fx('busybox-ping.txt'))).toBeGreaterThan(0);
    expect(pingAverage('rtt min/avg/max/mdev = 0.031/0.052/0.070/0.015 ms')).toBe(0.052);
  });

  it('a tool that failed is an error quoting its output, never a zero', () => {
    expect(() => sysbenchRate('sysbench: command not found')).toThrow(/sysbench total time not found.*command not found/);
    expect(() => iperf3Receiver('iperf3: error - unable to connect to server: Connection refused')).toThrow(/iperf3 receiver bitrate/);
    expect(() => pingAverage('ping: sendto: Network unreachable')).toThrow(/ping average/);
    expect(() => sysbenchMemory('')).toThrow(/remote-failed|MiB\/sec/);
  });

  it('sections split a script output on its "== NAME" lines (CRLF from a serial console too)', () => {
    const s = sections('noise\r\n== cpu\r\na\r\nb\r\n== bw:1024\r\nc\r\n');
    expect([...s.keys()]).toEqual(['cpu', 'bw:1024']);
    expect(s.get('cpu')).toBe('a\nb');
  });
});

describe('reading a whole probe script', () => {
  const osText = ['== cpu', fx('sysbench-cpu.txt'), '== memory', fx('sysbench-memory.txt'), '== threads', fx('sysbench-threads.txt'), '== syscall', fx('sysbench-syscall.txt'), '== context-switch', fx('sysbench-ctxsw.txt')].join('\n');

  it('os-overhead: five values with their units; syscalls are 100 per Lua event, switches 2', () => {
    const v = readOsOverhead(osText, 'vm');
    expect(v.map((x) => [x.probe, x.unit])).toEqual([['cpu', 'events/s'], ['memory', 'MiB/s'], ['threads', 'events/s'], ['syscall', 'syscalls/s'], ['context-switch', 'switches/s']]);
    expect(v.every((x) => x.value > 0 && x.target === 'vm' && x.param === '')).toBe(true);
    expect(v[3]!.value).toBeCloseTo(sysbenchRate(fx('sysbench-syscall.txt')) * 100, 3);
    expect(v[4]!.value).toBeCloseTo(sysbenchRate(fx('sysbench-ctxsw.txt')) * 2, 3);
    expect(() => readOsOverhead(osText.replace(/== context-switch[\s\S]*/, ''), 'vm')).toThrow(/context-switch probe printed nothing/);
    expect(() => readOsOverhead(osText.replace(/== syscall[\s\S]*/, ''), 'vm')).toThrow(/syscall probe printed nothing/);
  });

  it('network: latency plus one bandwidth per message size; a refused server gives latency only', () => {
    const text = ['== ping', fx('busybox-ping.txt'), ...MESSAGE_SIZES.flatMap((l) => [`== bw:${l}`, fx('iperf3-client.txt')])].join('\n');
    const r = readNetwork(text, 'node-node', true);
    expect(r.noServer).toBe(false);
    expect(r.values.map((v) => [v.probe, v.param, v.unit])).toEqual([['latency', '', 'ms'], ...MESSAGE_SIZES.map((l) => ['bandwidth', String(l), 'Mbit/s'])]);
    const refused = ['== ping', fx('busybox-ping.txt'), '== bw:1024', 'iperf3: error - unable to connect to server: Connection refused'].join('\n');
    const o = readNetwork(refused, 'vm-outside', true);
    expect(o.noServer).toBe(true);
    expect(o.values.map((v) => v.probe)).toEqual(['latency']);
  });

  it('storage: the four modes in MiB/s', () => {
    const text = ['seqrd', 'rndrd', 'rndwr', 'seqwr'].flatMap((m) => [`== ${m}`, fx(m.endsWith('wr') ? 'sysbench-fileio-seqwr.txt' : 'sysbench-fileio-rndrd.txt')]).join('\n');
    const v = readStorage(text, 'node raw');
    expect(v.map((x) => [x.probe, x.value, x.unit])).toEqual([['seqrd', 217.33, 'MiB/s'], ['rndrd', 217.33, 'MiB/s'], ['rndwr', 257.04, 'MiB/s'], ['seqwr', 257.04, 'MiB/s']]);
    // Reads run before writes: seqwr leaves the file only as long as its time allowed.
    expect(storageScript('/x', 1).indexOf('seqwr')).toBeGreaterThan(storageScript('/x', 1).indexOf('rndrd'));
  });
});

describe('probe scripts', () => {
  it('are one line each, within what the console shell takes (they are typed into a serial console), and carry the duration', () => {
    for (const s of [...osProbeFileScripts(), osOverheadScript(600), networkClientScript('10.200.0.3', 600, { ping: 'ping', bandwidth: true }), storageScript('/shared/x', 600), guestDiskPrepScript()]) {
      expect(s).not.toContain('\n');
      expect(s.length).toBeLessThanOrEqual(CONSOLE_LINE_MAX);
    }
    expect(CONSOLE_LINE_MAX).toBe(1024 - 54);
    expect(osOverheadScript(3)).toContain('--time=3');
    expect(networkClientScript('10.0.0.1', 7, { ping: 'busybox ping', bandwidth: true })).toContain('-t 7 -l 131072');
    expect(networkClientScript('10.0.0.1', 7, { ping: 'busybox ping', bandwidth: false })).not.toContain('iperf3');
  });

  it('refuse anything that is not an address, a plain path or a duration in range', () => {
    expect(() => networkClientScript('1.2.3.4; rm -rf /', 1, { ping: 'ping', bandwidth: true })).toThrow(/peer: must be an IPv4 address/);
    expect(() => storageScript('/tmp/$(reboot)', 1)).toThrow(/directory: must be an absolute path/);
    expect(() => osOverheadScript(0)).toThrow(/seconds: must be a whole number from 1 to 600/);
    expect(() => guestDiskPrepScript('/dev/vda; reboot')).toThrow(/device/);
  });
});

describe('the Lua micro-probes, run here by the real sysbench', () => {
  it('write their files with the console commands and measure a positive rate; the switch probe leaves no process behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-probes-'));
    try {
      const lines = osProbeFileScripts().map((c) => c.replaceAll('/tmp/', `${dir}/`));
      execFileSync('sh', ['-c', lines.join('; ')]);
      for (const f of ['vlx-syscall.lua', 'vlx-ctxsw.lua']) {
        const out = execFileSync('sysbench', [join(dir, f), '--threads=1', '--time=1', 'run'], { encoding: 'utf8', timeout: 20_000 });
        expect(sysbenchRate(out)).toBeGreaterThan(1000);
        expect(sysbenchRate(out)).toBeLessThan(50_000_000);
      }
      expect(execFileSync('sh', ['-c', `pgrep -f "${dir}/vlx-ctxsw[.]lua" || true`], { encoding: 'utf8' }).trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input names the field and the rule', () => {
  it('the service checks kind, VC name, seconds and the outside address', () => {
    expect(() => checkKind('imb')).toThrow('kind: must be one of os-overhead, network, storage, mpi (got "imb")');
    expect(() => checkSeconds(601)).toThrow('seconds: must be a whole number from 1 to 600 (got 601)');
    expect(() => checkExperimentRequest({ kind: 'network', vc: 'Bad_Name', seconds: 1 })).toThrow(/^vc: must be 1-24 chars/);
    expect(() => checkExperimentRequest({ kind: 'network', vc: 'web', seconds: 1, outside: 'a b' })).toThrow(/^outside: must be an IPv4 address/);
    expect(checkExperimentRequest({ kind: 'storage', vc: 'web', seconds: '2' })).toEqual({ kind: 'storage', vc: 'web', seconds: 2 });
  });

  it('the contract says the same for every face', () => {
    const input = contract['experiments.run'].input;
    const err = (v: unknown): string => { const r = input.safeParse(v); return r.success ? 'ok' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '); };
    expect(err({ kind: 'disk', vc: 'web' })).toBe('kind: must be one of os-overhead, network, storage, mpi');
    expect(err({ kind: 'network', vc: 'Web!' })).toMatch(/^vc: must be 1-24 chars/);
    expect(err({ kind: 'network', vc: 'web', seconds: 0 })).toBe('seconds: must be a whole number from 1 to 600');
    expect(err({ kind: 'network', vc: 'web', seconds: 1.5 })).toBe('seconds: must be a whole number from 1 to 600');
    expect(err({ kind: 'network', vc: 'web' })).toBe('ok');
    expect(input.parse({ kind: 'network', vc: 'web' }).seconds).toBe(5);
    expect(contract['experiments.export'].input.safeParse({ ids: [] }).success).toBe(false);
  });
});

describe('CSV export and ratios', () => {
  const base = { kind: 'os-overhead' as const, vc: 'bench', vcSize: 2, placement: placementText({ vm2: 'n2', vm1: 'n1' }), accel: 'tcg' as const, image: 'tiny-bench', date: '2026-11-30T16:00:00Z' };
  const rows: ExperimentRow[] = [
    { ...base, runId: 7, probe: 'cpu', target: 'node', param: '', value: 2374.01, unit: 'events/s' },
    { ...base, runId: 7, probe: 'cpu', target: 'vm', param: '', value: 107.11, unit: 'events/s' },
    { ...base, runId: 8, kind: 'network', probe: 'bandwidth', target: 'vm-vm, "odd"', param: '8192', value: 940.5, unit: 'Mbit/s' },
  ];

  it('has a header and one line per row, fields in the header order, quoted where needed', () => {
    const csv = experimentsCsv(rows);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(rows.length + 1);
    expect(lines[1]).toBe('7,os-overhead,cpu,node,,2374.01,events/s,bench,2,vm1@n1 vm2@n2,tcg,tiny-bench,2026-11-30T16:00:00Z');
    expect(lines[3]).toContain('"vm-vm, ""odd"""');
  });

  it('the ratio is VM over node, probe by probe', () => {
    expect(ratios(rows, 'vm', 'node')).toEqual([{ probe: 'cpu', ratio: 107.11 / 2374.01 }]);
    expect(ratios(rows, 'vm overlay', 'node raw')).toEqual([]);
  });
});

describe('bench image', () => {
  it('reads the library paths of ldd, the dynamic linker included', () => {
    const text = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibiperf.so.0 => /lib/x86_64-linux-gnu/libiperf.so.0 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n';
    expect(lddPaths(text)).toEqual(['/lib/x86_64-linux-gnu/libiperf.so.0', '/lib64/ld-linux-x86-64.so.2']);
    expect(() => lddPaths('\tlibgone.so.1 => not found\n')).toThrow(/libgone/);
  });
});

describe('network pairs from the placement', () => {
  const vm = (name: string, node: string | null) => ({ name, node });
  it('takes the first pair on one node and the first across nodes; absent when the placement has none', () => {
    expect(pickPairs([vm('vm1', 'n1'), vm('vm2', 'n2'), vm('vm3', 'n1')])).toEqual({ same: [vm('vm1', 'n1'), vm('vm3', 'n1')], across: [vm('vm1', 'n1'), vm('vm2', 'n2')] });
    expect(pickPairs([vm('vm1', 'n1'), vm('vm2', 'n1')])).toEqual({ same: [vm('vm1', 'n1'), vm('vm2', 'n1')] });
    expect(pickPairs([vm('vm1', 'n1'), vm('vm2', 'n2')])).toEqual({ across: [vm('vm1', 'n1'), vm('vm2', 'n2')] });
    expect(pickPairs([vm('vm1', 'n1'), vm('vm2', null)])).toEqual({});
    expect(pickPairs([vm('vm1', 'n1')])).toEqual({});
  });
});
