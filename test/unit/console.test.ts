import { describe, expect, it } from 'vitest';
import { parseConsoleTarget, targetTitle } from '../../main/consoles/target.js';
import { EscapeDetector } from '../../main/consoles/escape.js';
import { keepTail, Scrollback } from '../../main/consoles/scrollback.js';
import { CLOSED_BY_YOU, NODE_UNREACHABLE, VM_STOPPED, connectionLost, exitFromError, shellEnded } from '../../main/consoles/terminals.js';
import { consoleExitCode } from '../../main/cli/console.js';
import { VlxError } from '../../main/errors.js';

describe('parseConsoleTarget', () => {
  it.each([
    ['n3', { node: 'n3' }],
    ['node-12', { node: 'node-12' }],
    ['web/vm1', { vc: 'web', vm: 'vm1' }],
    ['a/b', { vc: 'a', vm: 'b' }],
  ])('%s', (text, want) => {
    expect(parseConsoleTarget(text)).toEqual(want);
    expect(targetTitle(parseConsoleTarget(text))).toBe(text);
  });

  it.each([
    ['', /^node: must be 1-32 chars/],
    ['N3', /^node: must be/],
    ['n1;reboot', /^node: must be .*\(got "n1;reboot"\)/],
    ['$(id)', /^node: must be/],
    ['web/', /^VM name: must be/],
    ['/vm1', /^VC name: must be/],
    ['web/vm1/x', /^target: must be NODE or VC\/VM \(one "\/" at most\)/],
    ['a'.repeat(25) + '/vm1', /^VC name: must be 1-24 chars/],
    ['web/vm 1', /^VM name: must be/],
    ["web/vm'1", /^VM name: must be/],
  ])('refuses %j', (text, msg) => {
    let err: unknown;
    try { parseConsoleTarget(text); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(VlxError);
    expect((err as VlxError).code).toBe('invalid-input');
    expect((err as VlxError).message).toMatch(msg);
  });

  it('refuses a non-string', () => {
    expect(() => parseConsoleTarget(3)).toThrow(/^target: must be NODE or VC\/VM/);
  });
});

describe('EscapeDetector (Ctrl-] then q)', () => {
  const E = '\x1d';
  // Each case: the chunks fed in order, the bytes forwarded in total, whether it quit.
  it.each<[string, string[], string, boolean]>([
    ['plain text passes', ['ls -l\r'], 'ls -l\r', false],
    ['escape then q quits', [`ab${E}q`], 'ab', true],
    ['escape then Q quits', [`${E}Q`], '', true],
    ['escape split across chunks', ['ab', E, 'q'], 'ab', true],
    ['escape twice sends one', [`${E}${E}x`], `${E}x`, false],
    ['escape then other key sends both', [`${E}x`], `${E}x`, false],
    ['escape then Enter sends both', [`${E}\r`], `${E}\r`, false],
    ['q alone is just q', ['q'], 'q', false],
    ['pending escape at end is held', [`a${E}`], 'a', false],
    ['bytes after quit are not forwarded', [`x${E}qrest`], 'x', true],
    ['escape, escape-escape, q', [`${E}${E}${E}q`], E, true],
  ])('%s', (_name, chunks, forwarded, quits) => {
    const d = new EscapeDetector();
    let out = '';
    let quit = false;
    for (const c of chunks) {
      const r = d.feed(Buffer.from(c, 'latin1'));
      out += r.forward.toString('latin1');
      if (r.quit) { quit = true; break; }
    }
    expect(out).toBe(forwarded);
    expect(quit).toBe(quits);
  });

  it('passes multibyte input untouched', () => {
    const d = new EscapeDetector();
    const s = 'é€😀';
    expect(d.feed(Buffer.from(s)).forward.toString()).toBe(s);
  });
});

describe('keepTail', () => {
  it.each<[string, string, number, string]>([
    ['short text is kept whole', 'abc', 10, 'abc'],
    ['exact fit is kept', 'abcdef', 6, 'abcdef'],
    ['cut moves to the next line start', 'line1\nline2\nline3', 10, 'line3'],
    ['cut exactly after a newline keeps the line', 'aaaa\nbbbb', 4, 'bbbb'],
    ['no newline: plain tail', 'abcdefghij', 4, 'ghij'],
    ['never starts with half a surrogate pair', 'ab😀cd', 3, 'cd'],
    ['keeps a whole pair at the cut', 'ab😀cd', 4, '😀cd'],
  ])('%s', (_name, text, max, want) => {
    const got = keepTail(text, max);
    expect(got).toBe(want);
    expect(got.length).toBeLessThanOrEqual(max);
  });

  it('does not look further than 1 KiB for a line start', () => {
    const text = 'x'.repeat(5000) + '\nend';
    expect(keepTail(text, 3000)).toBe(text.slice(text.length - 3000));
  });
});

describe('Scrollback', () => {
  it('keeps at most max characters, the newest ones', () => {
    const s = new Scrollback(100);
    for (let i = 0; i < 1000; i++) s.push(`${i}\n`);
    const snap = s.snapshot();
    expect(snap.length).toBeLessThanOrEqual(100);
    expect(snap.endsWith('999\n')).toBe(true);
    expect(snap.startsWith('\n')).toBe(false);
    // Whole lines only: each kept line is a number the stream produced.
    for (const line of snap.split('\n').filter(Boolean)) expect(Number(line)).toBeGreaterThan(950);
  });

  it('clear empties it', () => {
    const s = new Scrollback(10);
    s.push('hello');
    s.clear();
    expect(s.snapshot()).toBe('');
  });
});

describe('exit reasons', () => {
  it.each([
    [shellEnded(0), { reason: 'exited with code 0', code: 0, lost: false }, 0],
    [shellEnded(3), { reason: 'exited with code 3', code: 3, lost: false }, 3],
    [shellEnded(null, 'KILL'), { reason: 'killed by signal KILL', lost: false }, 1],
    [CLOSED_BY_YOU, { reason: 'closed by you', lost: false }, 0],
    [VM_STOPPED, { reason: 'VM stopped', lost: false }, 0],
    [NODE_UNREACHABLE, { reason: 'node unreachable', lost: true }, 5],
    [connectionLost('reset by peer'), { reason: 'connection lost: reset by peer', lost: true }, 5],
  ])('%j', (exit, want, code) => {
    expect(exit).toEqual(want);
    expect(consoleExitCode(exit)).toBe(code);
  });

  it.each([
    ['a VM that runs nowhere', new VlxError('conflict', 'VM a/b is not running', undefined, { unreachable: [] }), 'n1', VM_STOPPED],
    ['its node stopped answering', new VlxError('conflict', 'VM a/b is not running', undefined, { unreachable: ['n1'] }), 'n1', NODE_UNREACHABLE],
    ['another node is down, its own is fine', new VlxError('conflict', 'VM a/b is not running', undefined, { unreachable: ['n2'] }), 'n1', VM_STOPPED],
    ['no connection to the node', new VlxError('unreachable', 'node n1 (10.77.0.1:22) refused the connection'), 'n1', NODE_UNREACHABLE],
    ['a timeout', new VlxError('timeout', 'no answer'), undefined, NODE_UNREACHABLE],
    ['anything else', new Error('channel open failure'), 'n1', connectionLost('channel open failure')],
  ])('%s', (_name, err, node, want) => {
    expect(exitFromError(err, node)).toEqual(want);
  });
});
