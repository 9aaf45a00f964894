import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { DbEndpoint } from '../../../main/config/clusters.js';
import { appPaths } from '../../../main/config/paths.js';
import { membersOf, probeMember, type MemberProbe } from '../../../main/db/primary.js';

/** Helpers of the database failover tests: writer processes and member sampling. */

export async function bundleWriter(): Promise<string> {
  // inside the repo: the bundle's bare imports (pg) resolve from its node_modules
  const out = join(process.cwd(), 'dist', 'test', 'dbWriter.mjs');
  await build({
    entryPoints: ['test/integration/support/dbWriter.ts'], outfile: out, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', packages: 'external', logLevel: 'warning', loader: { '.sql': 'text' },
  });
  return out;
}

/** A second workstation: a copy of this app home whose DB credentials are dropped (a deploy gives it its own role). */
export function secondHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'vlx-home-ws2-'));
  cpSync(process.env.VLX_HOME!, home, { recursive: true });
  const file = join(home, appPaths.clusters().slice(process.env.VLX_HOME!.length + 1));
  const store = JSON.parse(readFileSync(file, 'utf8')) as { clusters: Record<string, { db?: Partial<DbEndpoint> }> };
  const lab = store.clusters.lab!;
  delete lab.db;
  writeFileSync(file, JSON.stringify(store, null, 2), { mode: 0o600 });
  return home;
}

export interface Writer {
  proc: ChildProcess;
  acks: { id: string; at: number; host: string }[];
  errors: { at: number; message: string }[];
  ready: Promise<void>;
  stop(): Promise<void>;
}

export function startWriter(script: string, home: string, name: string): Writer {
  const proc = spawn(process.execPath, [script, name, '40'], { env: { ...process.env, VLX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  const w: Writer = { proc, acks: [], errors: [], ready: Promise.resolve(), stop: async () => {} };
  let buf = '';
  let stderr = '';
  let onReady: () => void = () => {};
  let onFail: (e: Error) => void = () => {};
  w.ready = new Promise((res, rej) => { onReady = res; onFail = rej; });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [word, a, b, ...rest] = line.split(' ');
      if (word === 'ready') onReady();
      else if (word === 'ack') w.acks.push({ id: a!, at: Number(b), host: rest[0]! });
      else if (word === 'err') w.errors.push({ at: Number(a), message: [b, ...rest].join(' ') });
    }
  });
  proc.on('exit', (code) => onFail(new Error(`writer ${name} exited ${code}: ${stderr}`)));
  w.stop = () => new Promise((res) => {
    if (proc.exitCode !== null) return res();
    proc.once('exit', () => res());
    proc.kill('SIGTERM');
  });
  return w;
}

/** Every member's own answer to pg_is_in_recovery(), in parallel. */
export async function sampleMembers(ep: DbEndpoint): Promise<MemberProbe[]> {
  return Promise.all(membersOf(ep).map((m) => probeMember(ep, m, { connectTimeoutMs: 1000 })));
}

export const writable = (ps: MemberProbe[]): string[] => ps.filter((p) => p.state === 'primary').map((p) => p.node);

export async function waitUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
