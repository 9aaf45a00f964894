import type { Command } from 'commander';
import { action, printJson } from './output.js';
import type { Input, SnapshotList, SnapshotNodeT } from '../api/contract.js';
import { call, runTask } from './client.js';

/** How the snapshot commands name the contract's fields. */
const FLAGS = { vc: 'NAME', tag: '--tag', withMemory: '--with-memory' };
const ROLLBACK_FLAGS = { vc: 'NAME', tag: '--to' };

async function snapshotTask<C extends 'snapshots.take' | 'snapshots.rollback' | 'snapshots.delete'>(channel: C, input: Input<C>, json: boolean): Promise<number> {
  const { task, exitCode } = await runTask(channel, input, { json });
  if (json) printJson(task);
  else if (task.state === 'succeeded') process.stderr.write(`${task.kind} ${task.target}: done (task ${task.id.slice(0, 8)})\n`);
  return exitCode;
}

const mib = (b: number | null) => (b === null ? '-' : `${(b / 1048576).toFixed(1)} MiB`);

/** The tree of tags, one line per snapshot, its VMs' frozen files under it; `*` marks the one the VC runs on. */
export function renderSnapshotTree(list: SnapshotList): string {
  if (list.tree.length === 0) return `${list.vc}: no snapshots (take one with \`vlx vc snapshot ${list.vc} --tag TAG\`)\n`;
  const lines: string[] = [];
  const walk = (nodes: SnapshotNodeT[], indent: string) => {
    for (const n of nodes) {
      const total = n.disks.reduce((a, d) => a + (d.bytes ?? 0), 0);
      const bits = [n.createdAt.replace('T', ' ').slice(0, 19), n.withMemory ? 'with memory' : 'disks only', mib(total),
        ...(n.pauseMs !== null ? [`pause ${n.pauseMs} ms`] : []), ...(n.state !== 'ready' ? [n.state] : [])];
      lines.push(`${indent}${n.current ? '* ' : '  '}${n.tag}  (${bits.join(', ')})`);
      for (const d of n.disks) lines.push(`${indent}      ${d.vm}: ${d.disk}  ${mib(d.bytes)}`);
      walk(n.children, `${indent}  `);
    }
  };
  walk(list.tree, '');
  lines.push(`runs on: ${list.head ?? 'no snapshot'}`);
  for (const h of list.heads) lines.push(`  ${h.vm} writes to ${h.disk}`);
  return lines.join('\n') + '\n';
}

/** `vc snapshot NAME --tag T`, `vc snapshot list|delete`, `vc rollback NAME --to T` (registered under `vc`). */
export function registerSnapshotCommands(vc: Command): void {
  const snap = vc.command('snapshot')
    .description('snapshot every VM of a VC at one instant (take: `vc snapshot NAME --tag T`; also list, delete)')
    .argument('[name]', 'the VC')
    .option('--tag <tag>', 'the snapshot\'s name')
    .option('--with-memory', 'also save each VM\'s RAM (running VC): a rollback resumes where it was')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string | undefined, o: { tag?: string; withMemory?: boolean; json?: boolean }) =>
      snapshotTask('snapshots.take', { vc: name ?? '', tag: o.tag ?? '', withMemory: Boolean(o.withMemory) }, Boolean(o.json)), FLAGS));

  // Commander gives an option the parent also has (--json, --tag) to the parent: read it there too.
  const snapOpts = () => snap.opts<{ tag?: string; json?: boolean }>();
  const json = () => Boolean(snapOpts().json);

  snap.command('list <name>')
    .description('the VC\'s snapshots as a tree, and which one it runs on')
    .option('--json', 'JSON output')
    .action(action(async (name: string, o: { json?: boolean }) => {
      const list = await call('snapshots.list', { vc: name });
      if (o.json || json()) printJson(list);
      else process.stdout.write(renderSnapshotTree(list));
    }, FLAGS));

  snap.command('delete <name>')
    .description('delete a snapshot; its data is merged into the snapshots and overlays above it (block-stream while running)')
    .option('--tag <tag>', 'the snapshot to delete')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { tag?: string; json?: boolean }) =>
      snapshotTask('snapshots.delete', { vc: name, tag: o.tag ?? snapOpts().tag ?? '' }, Boolean(o.json) || json()), FLAGS));

  vc.command('rollback <name>')
    .description('return the whole VC to a snapshot (a running VC runs again; with memory, from the saved RAM)')
    .option('--to <tag>', 'the snapshot')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { to?: string; json?: boolean }) =>
      snapshotTask('snapshots.rollback', { vc: name, tag: o.to ?? '' }, Boolean(o.json)), ROLLBACK_FLAGS));
}
