import type { Command } from 'commander';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VlxError } from '../errors.js';
import { appHome } from '../config/paths.js';
import { agentSocketPath } from '../agent/protocol.js';
import { connectAgent } from '../agent/transport.js';
import { action, printJson } from './output.js';

const pidFile = () => join(appHome(), 'agent.pid');

async function serve(o: { quiet?: boolean; watch?: boolean }): Promise<number> {
  const [{ createServices }, { startAgent }] = await Promise.all([import('../service/index.js'), import('../agent/server.js')]);
  const services = createServices({ face: 'cli' });
  const agent = await startAgent(services, agentSocketPath());
  writeFileSync(pidFile(), `${process.pid}\n`, { mode: 0o600 });
  if (!o.quiet) process.stderr.write(`vlx agent: serving ${agent.path}; vlx commands of this user attach to it (Ctrl-C stops it)\n`);
  if (o.watch) {
    // The agent listens to its own events, so the health loop this first call starts keeps
    // running while the agent does: node health, and HA restart of the VMs of a node confirmed down.
    try {
      await services.methods['nodes.health']({});
      if (!o.quiet) process.stderr.write('vlx agent: watching node health (HA restart included)\n');
    } catch (e) {
      process.stderr.write(`vlx agent: not watching node health: ${(e as Error).message}\n`);
    }
  }
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
  });
  await agent.close();
  await services.close();
  rmSync(pidFile(), { force: true });
  return 0;
}

export function registerAgent(program: Command): void {
  const agent = program.command('agent')
    .description('serve this user\'s vlx commands from one process with warm connections (commands attach to it by themselves)')
    .option('--quiet', 'print nothing when it starts')
    .option('--watch', 'keep the node health loop running: node states for every attached command, and HA restart when a node is confirmed down')
    .action(action(async (o: { quiet?: boolean; watch?: boolean }) => serve(o)));

  agent.command('status')
    .description('whether an agent serves this app home, and the cluster it uses')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const t = await connectAgent(agentSocketPath(), 1000);
      if (!t) {
        if (o.json) printJson({ running: false, socket: agentSocketPath() });
        else process.stdout.write(`no agent serves ${agentSocketPath()}\n`);
        return 3;
      }
      const info = await t.invoke('app.info', {});
      t.close();
      const value = info.ok ? info.value as { cluster?: string; nodeInUse?: string } : {};
      if (o.json) printJson({ running: true, socket: agentSocketPath(), ...value });
      else process.stdout.write(`agent serving ${agentSocketPath()}: cluster ${value.cluster ?? 'none'}${value.nodeInUse ? `, node in use ${value.nodeInUse}` : ''}\n`);
      return 0;
    }));

  agent.command('stop')
    .description('stop the agent of this app home')
    .action(action(async () => {
      let pid: number;
      try { pid = Number(readFileSync(pidFile(), 'utf8').trim()); } catch { throw new VlxError('not-found', 'no agent is running for this app home'); }
      try { process.kill(pid, 'SIGTERM'); } catch { rmSync(pidFile(), { force: true }); throw new VlxError('not-found', `no agent is running (pid ${pid} is gone)`); }
      for (let i = 0; i < 50; i++) {
        if (!(await connectAgent(agentSocketPath(), 200))) { process.stdout.write('agent stopped\n'); return 0; }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new VlxError('timeout', `the agent (pid ${pid}) did not stop within 5 s`);
    }));
}
