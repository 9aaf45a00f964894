import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { VlxError } from '../errors.js';
import type { InstallCheck } from '../api/contract.js';
import { EXIT, action, num, printJson } from './output.js';
import { call, runTask } from './client.js';
import { installInteractively, askLine, withPrompt } from './installAsk.js';

const FLAGS = { node: '--reset-node', image: '--image', manifest: '--manifest', confirm: '--yes', cursor: '--since' };

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new VlxError('not-found', `${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Field errors as `FILE:LINE:COL: path: rule`, one per line, like a compiler. */
export function printCheck(file: string, c: InstallCheck): void {
  for (const e of c.errors) process.stderr.write(`${file}${e.line ? `:${e.line}:${e.col ?? 1}` : ''}: ${e.path}: ${e.rule}\n`);
  if (c.facts?.note) process.stderr.write(`note: ${c.facts.note}\n`);
  if (c.ok && c.nodes && c.derived) {
    process.stdout.write(`config ${file} is valid: ${c.nodes.length} node(s), boot network ${c.derived.bootNetwork}, roots served from ${c.derived.storageIp}, gateway ${c.derived.spare} (${c.derived.primary}/${c.derived.backup})\n`);
    for (const n of c.nodes) process.stdout.write(`  ${n.hostname.padEnd(12)} ${n.bootIp.padEnd(15)} ${n.mac}  export ${n.exportName}\n`);
  }
}

async function installFrom(yaml: string, file: string, o: { check?: boolean; json?: boolean }): Promise<number> {
  const c = await call('install.validate', { yaml });
  if (!c.ok || o.check) {
    if (o.json) printJson(c);
    else printCheck(file, c);
    return c.ok ? 0 : EXIT['invalid-input'];
  }
  const { task, exitCode } = await runTask('install.run', { yaml }, { json: Boolean(o.json) });
  if (o.json) printJson(task);
  else if (task.state === 'succeeded') process.stderr.write(`install ${task.target}: done (task ${task.id.slice(0, 8)})\n`);
  return exitCode;
}

/** The typed confirmation of a destructive restore: the container's name, unless --yes or --force. */
async function confirmation(o: { yes?: boolean; force?: boolean; manifest?: string }, what: string): Promise<string> {
  const s = await call('install.status', { ...(o.manifest ? { manifest: o.manifest } : {}) });
  if (!s.installed || !s.container) throw new VlxError('not-found', 'no disk-less installation in the manifest', 'install one with `vlx install --config FILE`');
  if (o.yes || o.force) return s.container;
  if (!process.stdin.isTTY) throw new VlxError('invalid-input', `confirm: ${what} needs a typed confirmation`, 'run it on a terminal, or give --yes');
  const typed = await withPrompt((rl) => askLine(rl, `${what}: this cannot be undone. Type the container's name (${s.container}) to go on: `));
  if (typed.trim() !== s.container) throw new VlxError('cancelled', 'not confirmed: nothing was changed');
  return s.container;
}

export function registerInstall(program: Command): void {
  const install = program.command('install')
    .description('install a disk-less cluster from a config (the successor of INSTALL.info)')
    .option('--config <file>', 'the cluster config (YAML)')
    .option('--interactive', 'ask for each value, with its default, checking each answer at once')
    .option('--example', 'print a commented config that installs 3 disk-less nodes onto the running lab')
    .option('--check', 'only check the config (against the cluster too), install nothing')
    .option('--json', 'print as JSON')
    .action(action(async (o: { config?: string; interactive?: boolean; example?: boolean; check?: boolean; json?: boolean }) => {
      const modes = [o.config !== undefined, Boolean(o.interactive), Boolean(o.example)].filter(Boolean).length;
      if (modes !== 1) throw new VlxError('invalid-input', 'give one of --config FILE, --interactive or --example');
      if (o.example) {
        const { yaml } = await call('install.example', {});
        if (o.json) printJson({ yaml });
        else process.stdout.write(yaml);
        return 0;
      }
      if (o.interactive) {
        const yaml = await installInteractively();
        if (yaml === undefined) return 0;
        return installFrom(yaml, '(answers)', o);
      }
      return installFrom(readText(o.config!, '--config'), o.config!, o);
    }, FLAGS));

  install.command('status')
    .description('the installation recorded in the manifest: container, nodes, storage address')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }, cmd: Command) => {
      const s = await call('install.status', {});
      if (o.json || cmd.optsWithGlobals().json) printJson(s);
      else if (!s.installed) process.stdout.write('no disk-less installation in the manifest\n');
      else {
        process.stdout.write(`container ${s.container} on ${s.sharedRoot}, roots served from ${s.storageIp}\n`);
        for (const n of s.nodes) process.stdout.write(`  ${String(n.ordinal).padStart(3)} ${n.hostname.padEnd(12)} ${n.ip.padEnd(15)} ${n.mac}  export ${n.export}\n`);
      }
    }));

  install.command('macs')
    .description('gather MAC addresses: --csv FILE, --manual (type or paste), or --watch the boot network as machines power on; prints ordinal,mac')
    .option('--csv <file>', 'a CSV of ordinal,mac[,hostname]')
    .option('--manual', 'type or paste the MACs')
    .option('--watch', 'list each new MAC seen in the DHCP log, in order, and ask to confirm it')
    .option('--count <n>', 'with --watch: stop after this many', '0')
    .option('--node <name>', 'with --watch or --since: whose DHCP log to watch (default: the node in use)')
    .option('--since <cursor>', 'for scripts and polling: the new MACs since a cursor ("now": none, and the cursor of the log\'s end)')
    .option('--known <mac...>', 'with --since: MACs already gathered, left out')
    .option('--json', 'with --since: print as JSON')
    .action(action(async (o: { csv?: string; manual?: boolean; watch?: boolean; count: string; node?: string; since?: string; known?: string[]; json?: boolean }, cmd: Command) => {
      // `install` has --json too: after the subcommand, commander may give it to either.
      const json = Boolean(o.json || cmd.optsWithGlobals().json);
      if (o.since !== undefined) {
        const r = await call('install.macs', {
          ...(o.node ? { node: o.node } : {}), ...(o.since === 'now' ? {} : { cursor: num(o.since) as number }), known: (o.known ?? []).filter((k) => k !== '-'),
        });
        if (json) printJson(r);
        else process.stdout.write(`cursor ${r.cursor} (${r.node})\n${r.macs.map((m) => `${m}\n`).join('')}`);
        return 0;
      }
      const { gatherMacs } = await import('./installAsk.js');
      const entries = await gatherMacs(o.csv ? { csv: o.csv } : o.manual ? { manual: true } : o.watch ? { watch: true, count: Number(num(o.count)) || 0, ...(o.node ? { node: o.node } : {}) } : undefined);
      process.stdout.write(entries.map((e) => `${e.ordinal},${e.mac}${e.hostname ? `,${e.hostname}` : ''}`).join('\n') + (entries.length ? '\n' : ''));
    }, FLAGS));

  install.command('update-original')
    .description('make the original a copy of an image rebuilt with the change, then reset every node root onto it (a task)')
    .option('--image <name>', 'the image with the change (default: the config\'s base image, rebuilt)')
    .option('--force', 'even when nodes are running (they must be rebooted)')
    .option('--yes', 'do not ask for the typed confirmation')
    .option('--json', 'print the finished task as JSON')
    .action(action(async (o: { image?: string; force?: boolean; yes?: boolean; json?: boolean }, cmd: Command) => {
      const json = Boolean(o.json || cmd.optsWithGlobals().json);
      const confirm = await confirmation(o, 'update the original and reset every node root');
      const { task, exitCode } = await runTask('install.updateOriginal', { ...(o.image ? { image: o.image } : {}), force: Boolean(o.force), confirm }, { json });
      if (json) printJson(task);
      return exitCode;
    }, FLAGS));
}

export function registerRestore(program: Command): void {
  program.command('restore')
    .description('regenerate node configuration, or reset node roots to the original (the report\'s restore.sh)')
    .option('--rebuild-config', 'regenerate every node\'s configuration and boot entry; volumes untouched (-d 1)')
    .option('--reset-all', 'every node\'s root back to the original (-d 2)')
    .option('--reset-node <n>', 'one node\'s root back to the original (-d 3)')
    .option('--format-shared', 'empty the shared volume too (-s)')
    .option('--force', 'even when the nodes concerned are running (-F)')
    .option('--yes', 'do not ask for the typed confirmation')
    .option('--manifest <path>', 'the manifest to restore from, on shared storage (-f)')
    .option('--json', 'print the finished task as JSON')
    .action(action(async (o: { rebuildConfig?: boolean; resetAll?: boolean; resetNode?: string; formatShared?: boolean; force?: boolean; yes?: boolean; manifest?: string; json?: boolean }) => {
      const actions = [o.rebuildConfig && 'rebuild-config', o.resetAll && 'reset-all', o.resetNode !== undefined && 'reset-node'].filter(Boolean) as ('rebuild-config' | 'reset-all' | 'reset-node')[];
      if (actions.length !== 1) throw new VlxError('invalid-input', 'give one of --rebuild-config, --reset-all or --reset-node N');
      const act = actions[0]!;
      const destructive = act !== 'rebuild-config' || o.formatShared;
      const confirm = destructive
        ? await confirmation(o, act === 'rebuild-config' ? 'empty the shared volume' : act === 'reset-all' ? 'reset every node root' : `reset the root of node ${o.resetNode}`)
        : undefined;
      const { task, exitCode } = await runTask('restore.run', {
        action: act, ...(o.resetNode !== undefined ? { node: num(o.resetNode) as number } : {}),
        formatShared: Boolean(o.formatShared), force: Boolean(o.force), ...(o.manifest ? { manifest: o.manifest } : {}), ...(confirm ? { confirm } : {}),
      }, { json: Boolean(o.json) });
      if (o.json) printJson(task);
      else if (task.state === 'succeeded') process.stderr.write(`${task.kind} ${task.target}: done (task ${task.id.slice(0, 8)})\n`);
      return exitCode;
    }, FLAGS));
}
