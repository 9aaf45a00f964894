import { describe, expect, it } from 'vitest';
import { Duplex } from 'node:stream';
import { SerialConsole } from '../../main/vm/serial.js';
import { NONCE_LENGTH, SERIAL_COMMAND_MAX, wrapCommand } from '../../main/domain/consoleCommand.js';

/** A console whose guest side is this test: what the app types arrives in `typed`; `say` answers. */
function fakeGuest(): { console: SerialConsole; typed: string[]; say(s: string): void } {
  const typed: string[] = [];
  const stream = new Duplex({ read() {}, write(chunk, _enc, cb) { typed.push(String(chunk)); cb(); } });
  return { console: new SerialConsole(stream, 'vc/vm1'), typed, say: (s) => stream.push(s) };
}

describe('typing a command into a console shell', () => {
  it('a command of the longest allowed length makes a line of exactly 1024 characters, newline included', () => {
    expect(wrapCommand('x'.repeat(SERIAL_COMMAND_MAX), 'n'.repeat(NONCE_LENGTH))).toHaveLength(1024);
  });

  it('a longer command is refused before anything is typed, naming the limit', async () => {
    const g = fakeGuest();
    await expect(g.console.run('x'.repeat(SERIAL_COMMAND_MAX + 1))).rejects.toThrow(`command: must be at most ${SERIAL_COMMAND_MAX} characters to type into a console shell (got ${SERIAL_COMMAND_MAX + 1})`);
    expect(g.typed).toEqual([]);
  });

  it('the output between the markers and the exit code come back; the echoed line is not taken for them', async () => {
    const g = fakeGuest();
    const done = g.console.run('echo hi', 5000);
    await new Promise((r) => setImmediate(r));
    const line = g.typed.join('');
    const nonce = /begin-(\w+);/.exec(line)![1]!;
    expect(nonce).toHaveLength(NONCE_LENGTH);
    g.say(`~ # ${line.replace('\n', '\r\n')}vlxbegin-${nonce}\r\nhi\r\nvlxend-${nonce}-3\r\n`);
    expect(await done).toEqual({ code: 3, output: 'hi\n' });
    g.console.close();
  });
});
