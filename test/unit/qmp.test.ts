import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import { QmpClient, cont, queryMigrate, quit, status, stop, type QmpEvent } from '../../main/vm/qmp.js';

/**
 * The QMP client against a real QEMU with no guest at all (`-machine none`: starts in
 * milliseconds), plus two misbehaving peers QEMU cannot play: one that never greets and
 * one that sends something other than JSON.
 */
const dir = mkdtempSync(join(tmpdir(), 'vlxqmp-'));
const pids: number[] = [];
let n = 0;

function startQemu(): string {
  const id = `q${n++}`;
  const sock = join(dir, `${id}.qmp`);
  const pid = join(dir, `${id}.pid`);
  execFileSync('qemu-system-x86_64', ['-machine', 'none', '-nodefaults', '-display', 'none', '-daemonize', '-pidfile', pid, '-qmp', `unix:${sock},server=on,wait=off`]);
  pids.push(Number(readFileSync(pid, 'utf8')));
  return sock;
}

function unix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

let sock: string;
let client: QmpClient;

beforeAll(() => {
  sock = startQemu();
});

afterEach(() => client?.close());

afterAll(() => {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone: quit() ended it
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('QmpClient against QEMU', () => {
  it('reads the greeting and negotiates capabilities', async () => {
    const r = await QmpClient.connect(await unix(sock));
    client = r.client;
    expect(r.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(Array.isArray(r.greeting.capabilities)).toBe(true);
    expect((await status(client)).status).toMatch(/^(running|prelaunch)$/);
  });

  it('matches answers to commands by id when several are in flight', async () => {
    client = (await QmpClient.connect(await unix(sock))).client;
    const [a, b, c] = await Promise.all([
      client.execute<{ qemu: { major: number } }>('query-version'),
      client.execute<{ name?: string }>('query-name'),
      client.execute<{ status: string }>('query-status'),
    ]);
    expect(a.qemu.major).toBeGreaterThanOrEqual(7);
    expect(b).toEqual({});
    expect(typeof c.status).toBe('string');
  });

  it('turns an error reply into a VlxError with QEMU\'s description and class', async () => {
    client = (await QmpClient.connect(await unix(sock), { label: 'n1/web-1' })).client;
    const err = await client.execute('no-such-command').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlxError);
    expect((err as VlxError).code).toBe('remote-failed');
    expect((err as VlxError).message).toBe("n1/web-1: no-such-command: The command no-such-command has not been found");
    expect((err as VlxError).details).toEqual({ qmpClass: 'CommandNotFound' });
    // The connection stays usable after an error.
    expect(await queryMigrate(client)).toEqual({});
  });

  it('refuses a command name that is not a QMP identifier before sending it', async () => {
    client = (await QmpClient.connect(await unix(sock))).client;
    await expect(client.execute('query-status"}\n{"execute":"quit')).rejects.toThrow('command: must be a QMP command name');
  });

  it('emits events: stop → STOP, cont → RESUME', async () => {
    client = (await QmpClient.connect(await unix(sock))).client;
    const seen: QmpEvent[] = [];
    client.on('event', (e) => seen.push(e));
    const stopped = client.waitEvent('STOP', 10_000);
    await stop(client);
    expect((await stopped).event).toBe('STOP');
    expect((await status(client)).status).toBe('paused');
    const resumed = client.waitEvent('RESUME', 10_000);
    await cont(client);
    await resumed;
    expect(seen.map((e) => e.event)).toEqual(['STOP', 'RESUME']);
    expect(seen[0].timestamp?.seconds).toBeGreaterThan(0);
  });

  it('quit ends QEMU; pending and later commands fail with the connection', async () => {
    const own = startQemu();
    client = (await QmpClient.connect(await unix(own))).client;
    const closed = new Promise<Error | undefined>((r) => client.once('close', r));
    await quit(client);
    expect((await closed)?.message).toContain('QMP connection closed');
    expect(client.isClosed).toBe(true);
    await expect(client.execute('query-status')).rejects.toThrow('QMP connection closed');
    // QEMU closes the monitor before it has finished exiting; its socket file goes with the exit.
    for (let i = 0; i < 100 && existsSync(own); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(own)).toBe(false);
  });
});

describe('QmpClient against peers that misbehave', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  function peer(onConn: (s: Socket) => void): Promise<string> {
    const path = join(dir, `peer${servers.length}.sock`);
    const srv = createServer(onConn);
    servers.push(srv);
    return new Promise((resolve) => srv.listen(path, () => resolve(path)));
  }

  it('times out when no greeting comes', async () => {
    const path = await peer(() => undefined);
    await expect(QmpClient.connect(await unix(path), { timeoutMs: 200, label: 'silent' })).rejects.toThrow('silent: no QMP greeting within 200 ms');
  });

  it('times out a command that gets no answer, without breaking the connection', async () => {
    const path = await peer((s) => {
      s.write('{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}, "capabilities": []}}\n');
      s.on('data', (d) => {
        const msg = JSON.parse(String(d).trim()) as { execute: string; id: string };
        // Answers only capabilities; anything else is left hanging.
        if (msg.execute === 'qmp_capabilities') s.write(JSON.stringify({ return: {}, id: msg.id }) + '\n');
      });
    });
    client = (await QmpClient.connect(await unix(path), { label: 'mute' })).client;
    await expect(client.execute('query-status', undefined, { timeoutMs: 100 })).rejects.toThrow('mute: query-status: no answer within 100 ms');
    expect(client.isClosed).toBe(false);
  });

  it('fails everything when the peer sends something that is not JSON', async () => {
    const path = await peer((s) => s.write('SSH-2.0-OpenSSH_9.2\n'));
    await expect(QmpClient.connect(await unix(path), { label: 'wrong' })).rejects.toThrow('wrong: QMP sent something that is not JSON: SSH-2.0-OpenSSH_9.2');
  });
});
