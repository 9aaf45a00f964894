import { describe, expect, it } from 'vitest';
import { advanceLog, formatLineError, newMacs, parseDhcpLog, parseMacCsv, parseManualMacs } from '../../main/domain/macs.js';

describe('MACs from a CSV file', () => {
  it('reads ordinal,mac[,hostname], skipping a header, comments and blank lines', () => {
    const r = parseMacCsv('ordinal,mac,hostname\n# the rack\n2,52-54-4D-00-01-02\n\n1, 52:54:4d:00:01:01 ,front\n3,5254.4d00.0103\n');
    expect(r.errors).toEqual([]);
    expect(r.entries).toEqual([
      { ordinal: 1, mac: '52:54:4d:00:01:01', hostname: 'front' },
      { ordinal: 2, mac: '52:54:4d:00:01:02' },
      { ordinal: 3, mac: '52:54:4d:00:01:03' },
    ]);
  });

  it('reports every bad line with its number and the rule', () => {
    const r = parseMacCsv([
      '1,52:54:4d:00:01:01',
      '2,52:54:4d:00:01',
      'x,52:54:4d:00:01:03',
      '3,52:54:4d:00:01:01',
      '1,52:54:4d:00:01:04',
      '4,52:54:4d:00:01:05,Node_5',
      '5',
      '6,52:54:4d:00:01:06,a,b',
      '0,52:54:4d:00:01:07',
    ].join('\n'));
    expect(r.errors.map((e) => formatLineError('macs.csv', e))).toEqual([
      'macs.csv:2: mac must be a MAC address like 52:54:4d:00:01:01 (got "52:54:4d:00:01")',
      'macs.csv:3: ordinal must be a whole number from 1 to 250 (got "x")',
      'macs.csv:4: mac 52:54:4d:00:01:01 is already on line 1',
      'macs.csv:5: ordinal 1 is already on line 1',
      'macs.csv:6: hostname must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-" (got "Node_5")',
      'macs.csv:7: must be "ordinal,mac" or "ordinal,mac,hostname" (1 field found)',
      'macs.csv:8: must be "ordinal,mac" or "ordinal,mac,hostname" (4 fields found)',
      'macs.csv:9: ordinal must be a whole number from 1 to 250 (got "0")',
    ]);
  });

  it('ordinals must run from 1 without gaps', () => {
    const r = parseMacCsv('1,52:54:4d:00:01:01\n3,52:54:4d:00:01:03\n');
    expect(r.errors.map((e) => formatLineError('m.csv', e))).toEqual(['m.csv: ordinal 2 is missing: ordinals must run from 1 without gaps']);
  });
});

describe('MACs typed by hand', () => {
  it('normalises any usual spelling and refuses duplicates and junk', () => {
    const r = parseManualMacs('52-54-4D-00-01-01, 52:54:4d:00:01:02\n5254.4d00.0101 zz:zz 52:54:4d:00:01:09', ['52:54:4D:00:01:09']);
    expect(r.macs).toEqual(['52:54:4d:00:01:01', '52:54:4d:00:01:02']);
    expect(r.errors).toEqual([
      { index: 3, text: '5254.4d00.0101', rule: '52:54:4d:00:01:01 is already listed' },
      { index: 4, text: 'zz:zz', rule: 'must be a MAC address like 52:54:4d:00:01:01' },
      { index: 5, text: '52:54:4d:00:01:09', rule: '52:54:4d:00:01:09 is already listed' },
    ]);
  });
});

describe('MACs watched in the DHCP log', () => {
  const log = [
    'Nov 30 07:00:01 dnsmasq-dhcp[311]: DHCPDISCOVER(eth0) 52:54:4D:00:01:02 no address available',
    'Nov 30 07:00:01 dnsmasq-dhcp[311]: 1839 DHCPDISCOVER(eth0) 10.77.0.77 52:54:4d:00:01:03 no address available',
    'Nov 30 07:00:02 dnsmasq-dhcp[311]: DHCPREQUEST(eth0) 10.77.0.2 52:54:4d:00:00:02',
    'Nov 30 07:00:02 dnsmasq-dhcp[311]: DHCPDISCOVER(eth0) 52:54:4d:00:01:02 no address available',
    'Nov 30 07:00:03 dnsmasq[311]: query[A] example.org from 10.77.0.1',
    'Nov 30 07:00:04 dnsmasq-dhcp[311]: DHCPDISCOVER(eth0) 52:54:4d:00:00:01',
    'garbage DHCPDISCOVER( 52:54',
  ].join('\n');

  it('finds each DHCPDISCOVER with its MAC and interface', () => {
    expect(parseDhcpLog(log)).toEqual([
      { mac: '52:54:4d:00:01:02', iface: 'eth0' },
      { mac: '52:54:4d:00:01:03', iface: 'eth0' },
      { mac: '52:54:4d:00:01:02', iface: 'eth0' },
      { mac: '52:54:4d:00:00:01', iface: 'eth0' },
    ]);
  });

  it('lists each new MAC once, in the order machines powered on, leaving out the known ones', () => {
    expect(newMacs(parseDhcpLog(log), ['52:54:4d:00:00:01'])).toEqual(['52:54:4d:00:01:02', '52:54:4d:00:01:03']);
  });

  it('the cursor advances over whole lines only, and restarts after a truncation', () => {
    expect(advanceLog(100, 150, 'a line\npart')).toEqual({ text: 'a line\n', cursor: 107, restarted: false });
    expect(advanceLog(100, 150, 'no newline yet')).toEqual({ text: '', cursor: 100, restarted: false });
    expect(advanceLog(500, 20, 'x\n')).toEqual({ text: 'x\n', cursor: 2, restarted: true });
  });
});
