import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { quote, sh } from '../../main/util/quote.js';

describe('quote', () => {
  const nasty = ['', 'plain', 'two words', "it's", '$(rm -rf /)', '`id`', 'a;b', 'a\nb', '"', "''", '\\', '*', '~root', '-n', 'ä€'];
  it.each(nasty)('round-trips %j through a real shell', (s) => {
    const out = execFileSync('/bin/sh', ['-c', `printf %s ${quote(s)}`]).toString();
    expect(out).toBe(s);
  });
  it('leaves safe words bare', () => {
    expect(sh('qemu-img', 'create', '-f', 'qcow2', '/srv/x.qcow2')).toBe('qemu-img create -f qcow2 /srv/x.qcow2');
  });
  it('quotes an empty argument', () => {
    expect(quote('')).toBe("''");
  });
});
