import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { FLOW_HIGH, TerminalHub } from '../../main/consoles/terminals.js';
import { makeSshd, type TestSshd } from './ssh-sshd.js';

/**
 * Flow control on a real SSH shell (a local OpenSSH server): a face that does not draw stops
 * the node's output at a bounded amount instead of queueing it all, and a face that draws
 * gets everything, with a Ctrl-C answered at once even in the middle of a flood.
 */
let sshd: TestSshd;
let work: string;
let session: SshClusterSession;
let hub: TerminalHub;

beforeAll(async () => {
  sshd = await makeSshd();
  await sshd.start();
  work = mkdtempSync(join(tmpdir(), 'vlx-flow-'));
  const key = sshd.hostKeyPub();
  const knownHostsFile = join(work, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${sshd.port} ${key.keyType} ${key.keyBase64}\n`);
  session = openCluster({ name: 't', user: 'root', port: sshd.port, keyFile: sshd.clientKey, lab: false, nodes: [{ name: 'local', address: '127.0.0.1' }] }, { knownHostsFile });
  hub = new TerminalHub(session);
}, 30_000);

afterAll(async () => {
  hub?.closeAll();
  await session?.close();
  await sshd?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('terminal flow control', () => {
  it('a face that draws nothing holds a flood at the high watermark; drawing lets the rest through', async () => {
    const { id } = await hub.open({ node: 'local' }, { rows: 24, cols: 80 });
    let got = 0;
    const off = hub.onData((tid, s) => { if (tid === id) got += s.length; });
    try {
      hub.write(id, 'yes flood-line | head -c 20000000; echo flood-done\r');
      await wait(2000);
      const held = got;
      // Bounded by the watermark plus what was already on its way (one SSH packet, the PTY's buffer).
      expect(held).toBeGreaterThan(FLOW_HIGH / 2);
      expect(held).toBeLessThan(FLOW_HIGH + 256 * 1024);
      await wait(500);
      expect(got).toBe(held);
      // Now draw everything as it comes: the 20 MB flood finishes.
      let text = '';
      const offAck = hub.onData((tid, s) => { if (tid === id) { text = (text + s).slice(-200); setImmediate(() => hub.ack(id, s.length)); } });
      hub.ack(id, held);
      const deadline = Date.now() + 60_000;
      while (!text.includes('flood-done') && Date.now() < deadline) await wait(50);
      offAck();
      expect(text).toContain('flood-done');
      expect(got).toBeGreaterThan(20_000_000);
    } finally {
      off();
      hub.close(id);
    }
  }, 90_000);

  it('Ctrl-C in the middle of an endless flood brings the prompt back within a second', async () => {
    const { id } = await hub.open({ node: 'local' }, { rows: 24, cols: 80 });
    let text = '';
    let total = 0;
    const off = hub.onData((tid, s) => {
      if (tid !== id) return;
      total += s.length;
      text = (text + s).slice(-4000);
      // A face that draws at about xterm's speed: acknowledged a little later.
      setTimeout(() => hub.ack(id, s.length), 2);
    });
    try {
      hub.write(id, 'yes\r');
      const t0 = Date.now();
      while (total < 5_000_000 && Date.now() - t0 < 20_000) await wait(50);
      expect(total).toBeGreaterThan(5_000_000);
      const before = Date.now();
      hub.write(id, '\x03');
      await wait(50);
      hub.write(id, 'echo prompt-$((20+22))\r');
      while (!text.includes('prompt-42') && Date.now() - before < 10_000) await wait(10);
      const ms = Date.now() - before;
      process.stderr.write(`flood: ${(total / 1e6).toFixed(1)} MB drawn; prompt back ${ms} ms after Ctrl-C\n`);
      expect(text).toContain('prompt-42');
      expect(ms).toBeLessThan(1000);
    } finally {
      off();
      hub.close(id);
    }
  }, 60_000);
});
