import { describe, expect, it } from 'vitest';
import {
  BOOT_PARAMS, BootLineError, NBD_PORT, nodeBootLine, parseBootLine, printBootLine, type BootLine, type BootParams,
} from '../../main/domain/bootLine.js';
import { prng as rng, type Prng } from '../support/prng.js';

type Rng = Prng;

const ip = (r: Rng) => [r.int(0, 255), r.int(0, 255), r.int(0, 255), r.int(0, 255)].join('.');
const mask = (r: Rng) => { const p = r.int(0, 32); const n = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0; return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'); };
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = LOWER + 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function genParams(r: Rng): BootParams {
  const p: BootParams = {
    storage_ip: ip(r),
    storage_port: r.int(1, 65535),
    ivid: r.pick([...ALNUM]) + r.str(ALNUM + '._-', 0, 30),
    root: '/dev/' + r.str(ALNUM + '_.-', 1, 8) + (r.next() < 0.3 ? '/' + r.str(ALNUM, 1, 8) : ''),
  };
  if (r.next() < 0.5) p.sif = r.pick([...LOWER]) + r.str(ALNUM + '_.:-', 0, 14);
  if (r.next() < 0.5) p.sifip = ip(r);
  if (r.next() < 0.5) p.sifnm = mask(r);
  if (r.next() < 0.5) p.sifm = Array.from({ length: r.int(1, 4) }, () => r.str(ALNUM + '_-', 1, 12));
  return p;
}

/** Kernel arguments: printable ASCII, never a parameter name, never the end mark. */
function genKernelArgs(r: Rng): string[] {
  const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
  const out: string[] = [];
  for (let i = r.int(0, 4); i > 0; i--) {
    const w = r.pick(['console=ttyS0', 'quiet', 'ip=dhcp', 'x' + r.str(printable, 0, 12)]);
    out.push(w);
  }
  return out;
}

describe('boot line: printing then parsing', () => {
  it('is the identity on valid lines (500 seeded cases)', () => {
    const r = rng(20070713);
    for (let i = 0; i < 500; i++) {
      const b: BootLine = { kernelArgs: genKernelArgs(r), params: genParams(r) };
      const line = printBootLine(b);
      expect(parseBootLine(line)).toEqual(b);
      expect(printBootLine(parseBootLine(line))).toBe(line);
    }
  });

  it('keeps the first occurrence when a parameter is repeated, in any order', () => {
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      const first = genParams(r);
      const later = genParams(r);
      const line = printBootLine({ kernelArgs: [], params: first });
      const words = line.split(' ').slice(0, -1);
      // Shuffle the parameters, then append a second, different set: none of it may win.
      for (let j = words.length - 1; j > 0; j--) { const k = r.int(0, j); [words[j], words[k]] = [words[k]!, words[j]!]; }
      const tail = printBootLine({ kernelArgs: [], params: later }).split(' ').slice(0, -1);
      expect(parseBootLine([...words, ...tail, '---'].join('  ')).params).toEqual({ ...later, ...definedOf(first) });
    }
  });

  it('maps a node onto its NBD root', () => {
    const line = nodeBootLine({ container: 'lab', node: 3, storageIp: '10.77.0.250', iface: 'eth0', ip: '10.77.0.103', netmask: '255.255.255.0', modules: ['e1000'], kernelArgs: ['console=ttyS0'] });
    expect(line).toBe(`console=ttyS0 storage_ip=10.77.0.250 storage_port=${NBD_PORT} sif=eth0 sifip=10.77.0.103 sifnm=255.255.255.0 sifm=e1000 ivid=lab-node3 root=/dev/nbd0 ---`);
  });
});

/** Optional parameters present only in the later set still count (they appeared once). */
function definedOf(p: BootParams): Partial<BootParams> {
  return Object.fromEntries(Object.entries(p).filter(([k, v]) => v !== undefined && (BOOT_PARAMS as readonly string[]).includes(k)));
}

describe('boot line: malformed lines name their position', () => {
  const ok = 'console=ttyS0 storage_ip=10.0.0.1 storage_port=10809 ivid=n1 root=/dev/nbd0 ---';
  const cases: [string, string, number, number][] = [
    ['console=ttyS0 storage_ip=10.0.0.1 storage_port=10809 ivid=n1 root=/dev/nbd0', 'the line must end with "---"', 6, 75],
    ['storage_ip=10.0.0.300 storage_port=1 ivid=n root=/dev/nbd0 ---', 'storage_ip must be an IPv4 address like 10.77.0.250', 1, 0],
    ['storage_ip=10.0.0.1 storage_port=65536 ivid=n root=/dev/nbd0 ---', 'storage_port must be a port from 1 to 65535', 2, 20],
    ['storage_ip=10.0.0.1 storage_port=1 quiet ivid=n root=/dev/nbd0 ---', '"quiet" is not a boot parameter', 3, 35],
    ['storage_ip=10.0.0.1 storage_port=1 ivid root=/dev/nbd0 ---', 'ivid needs a value: ivid=VALUE', 3, 35],
    ['storage_ip=10.0.0.1 storage_port=1 ivid=n root=nbd0 ---', 'root must be a device path like /dev/nbd0', 4, 42],
    ['storage_ip=10.0.0.1 storage_port=1 ivid=n root=/dev/nbd0 sifnm=255.0.255.0 ---', 'sifnm must be a netmask like 255.255.255.0', 5, 57],
    ['storage_ip=10.0.0.1 storage_port=1 ivid=n root=/dev/nbd0 sifm=e1000,,tg3 ---', 'sifm must be a comma list of kernel module names', 5, 57],
    ['storage_ip=10.0.0.1 storage_port=1 ivid=n root=/dev/nbd0 sif=-x ---', 'sif must be an interface name', 5, 57],
    ['storage_ip=10.0.0.1 storage_port=1 ivid=n root=/dev/nbd0 --- quiet', 'nothing may follow "---"', 6, 61],
    ['storage_ip=10.0.0.1 storage_port=1 root=/dev/nbd0 ---', 'missing required parameter ivid', 4, 50],
    ['quiet ---', 'missing required parameters storage_ip, storage_port, ivid, root', 2, 6],
    ['storage_ip=10.0.0.1 storage_port=1 ivid=nödé root=/dev/nbd0 ---', 'only printable ASCII and spaces may appear', 3, 41],
    ['', 'the line must end with "---"', 1, 0],
  ];
  it.each(cases)('%j', (line, rule, word, offset) => {
    let err: unknown;
    try { parseBootLine(line); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(BootLineError);
    const e = err as BootLineError;
    expect(e.message).toContain(rule);
    expect(e.message).toMatch(new RegExp(`^boot line, word ${word} \\(character ${offset + 1}\\): `));
    expect([e.word, e.offset]).toEqual([word, offset]);
  });

  it('never crashes on random bytes: a parse or a positioned error (2000 seeded cases)', () => {
    const r = rng(42);
    const alphabet = ok + ' =,-/ééx\t';
    for (let i = 0; i < 2000; i++) {
      const line = r.next() < 0.5 ? r.str(alphabet, 0, 100) : mutate(r, ok);
      try { parseBootLine(line); } catch (e) {
        expect(e).toBeInstanceOf(BootLineError);
        const be = e as BootLineError;
        expect(be.offset).toBeGreaterThanOrEqual(0);
        expect(be.offset).toBeLessThanOrEqual(line.length);
      }
    }
  });

  it('the printer refuses what the parser would refuse', () => {
    const params = parseBootLine(ok).params;
    expect(() => printBootLine({ kernelArgs: ['ivid=x'], params })).toThrow(/kernel argument "ivid=x"/);
    expect(() => printBootLine({ kernelArgs: ['a b'], params })).toThrow(/kernel argument/);
    expect(() => printBootLine({ kernelArgs: [], params: { ...params, storage_port: 0 } })).toThrow('boot line: storage_port must be a port from 1 to 65535 (got "0")');
  });
});

function mutate(r: Rng, s: string): string {
  const i = r.int(0, s.length);
  const what = r.int(0, 2);
  if (what === 0) return s.slice(0, i) + s.slice(i + 1);
  if (what === 1) return s.slice(0, i) + r.pick([' ', '=', ',', '-', 'é', 'x']) + s.slice(i);
  return s.slice(0, i);
}
