import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { VlxError, invalid } from '../errors.js';
import { action, num, printJson, translateFields } from './output.js';
import type { Input, VcDetail, VcInfo, VolumeNodeT } from '../api/contract.js';
import { call, runTask } from './client.js';
import { VC_FORM_DEFAULTS, VC_LIMITS } from '../domain/vcSpec.js';
import { checkRequestedSubnet } from '../domain/subnet.js';
import { checkInt, checkName } from '../util/names.js';
import { registerSnapshotCommands } from './snapshot.js';

/** How the VC commands name the contract's fields. */
const FLAGS = {
  name: 'NAME', nodes: '--nodes', vcpus: '--vcpus', memMb: '--mem-mb', diskGb: '--disk-gb', swapMb: '--swap-mb',
  image: '--image', subnet: '--subnet', policy: '--policy', mode: '--mode', timeoutS: '--timeout',
};

/** Run a VC task to its end with progress; --json prints the finished task. */
async function vcTask<C extends 'vc.create' | 'vc.start' | 'vc.stop' | 'vc.save' | 'vc.restore' | 'vc.destroy'>(channel: C, input: Input<C>, json: boolean): Promise<number> {
  const { task, exitCode } = await runTask(channel, input, { json });
  if (json) printJson(task);
  else if (task.state === 'succeeded') process.stderr.write(`${task.kind} ${task.target}: done (task ${task.id.slice(0, 8)})\n`);
  return exitCode;
}

/** What `vc create` asks for, by the key VcService.createVc reads. */
export type CreateField = 'name' | 'nodes' | 'vcpus' | 'memMb' | 'diskGb' | 'swapMb' | 'image' | 'subnet';
export type CreateAnswers = Partial<Record<CreateField, string>>;

/** How each field is named at the start of an error message: the contract's field names. */
const CREATE_FIELDS: CreateField[] = ['name', 'nodes', 'vcpus', 'memMb', 'diskGb', 'swapMb', 'image', 'subnet'];

/** Fields without a default in VcService: when one is missing on a terminal, the rest is asked too. */
const REQUIRED: CreateField[] = ['name', 'nodes', 'vcpus', 'memMb', 'diskGb', 'image'];

const D = VC_FORM_DEFAULTS;
/** The questions, with the domain's form defaults (the GUI wizard starts from the same). */
const QUESTIONS: { key: CreateField; ask: string; def?: string }[] = [
  { key: 'name', ask: 'VC name' },
  { key: 'nodes', ask: `number of VMs (${VC_LIMITS.nodes.min}-${VC_LIMITS.nodes.max})`, def: String(D.nodes) },
  { key: 'vcpus', ask: 'vCPUs per VM', def: String(D.vcpus) },
  { key: 'memMb', ask: 'memory per VM in MB', def: String(D.memMb) },
  { key: 'diskGb', ask: 'disk per VM in GB', def: String(D.diskGb) },
  { key: 'swapMb', ask: 'swap per VM in MB', def: String(D.swapMb) },
  { key: 'image', ask: 'OS image', def: D.image },
  { key: 'subnet', ask: 'subnet (auto or a CIDR)', def: D.subnet },
];

/** What is known before asking: answers to check right away instead of after the last question. */
export interface CreateContext {
  images: readonly string[];
  vcs: readonly string[];
}

/**
 * Check one answer with the rules VcService applies (same functions, same messages), so a
 * bad answer is asked again at once. Throws the VlxError naming the field and the rule. Pure.
 */
export function checkAnswer(field: CreateField, value: string, answers: CreateAnswers, ctx: CreateContext): void {
  const label = field;
  switch (field) {
    case 'name':
      checkName('vc', value, label);
      if (ctx.vcs.includes(value)) throw new VlxError('conflict', `${label}: a VC named "${value}" already exists`, 'choose another name or destroy it first');
      return;
    case 'image':
      checkName('image', value, label);
      if (ctx.images.length > 0 && !ctx.images.includes(value)) throw invalid(label, `must be a known image (${[...ctx.images].sort().join(', ')})`, value);
      return;
    case 'subnet':
      if (value !== 'auto') checkRequestedSubnet(value, Number(answers.nodes ?? VC_LIMITS.nodes.min));
      return;
    default: {
      const { min, max } = VC_LIMITS[field];
      checkInt(value, label, min, max);
    }
  }
}

/** The field a create error is about, when it names one and asking again can fix it. Pure. */
export function fieldOfError(e: unknown): CreateField | undefined {
  if (!(e instanceof VlxError) || (e.code !== 'invalid-input' && e.code !== 'conflict')) return undefined;
  return CREATE_FIELDS.find((f) => e.message.startsWith(`${f}: `));
}

/** The question as shown: the image default is one that exists, and the images are listed. Pure. */
export function questionFor(field: CreateField, ctx: CreateContext): { ask: string; def?: string } {
  const q = QUESTIONS.find((x) => x.key === field)!;
  if (field !== 'image' || ctx.images.length === 0) return q;
  const known = [...ctx.images].sort();
  return { ask: `${q.ask} (${known.join(', ')})`, def: known.includes('tiny') ? 'tiny' : known[0] };
}

export function needsAnswers(answers: CreateAnswers): boolean {
  return REQUIRED.some((f) => answers[f] === undefined);
}

/** Why an answer is asked again: the field (as its flag), the rule and, if there is one, what to do. */
function explain(e: VlxError): void {
  process.stderr.write(`  ${translateFields(e.message, FLAGS)}${e.hint ? ` (${e.hint})` : ''}\n`);
}

/**
 * A few questions on the terminal. Ctrl-C or Ctrl-D at a prompt leaves without creating
 * anything; the interface is closed before the task runs, so Ctrl-C reaches the task as a signal.
 */
async function prompting<T>(fn: (ask: (field: CreateField) => Promise<string>) => Promise<T>, answers: CreateAnswers, ctx: CreateContext): Promise<T> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const ask = async (field: CreateField): Promise<string> => {
    const q = questionFor(field, ctx);
    for (;;) {
      const typed = (await rl.question(`${q.ask}${q.def !== undefined ? ` [${q.def}]` : ''}: `)).trim();
      const value = typed === '' && q.def !== undefined ? q.def : typed;
      try {
        checkAnswer(field, value, answers, ctx);
        return value;
      } catch (e) {
        if (!(e instanceof VlxError)) throw e;
        explain(e);
      }
    }
  };
  try {
    return await fn(ask);
  } catch (e) {
    // readline's own error for Ctrl-C / Ctrl-D at a question
    if (e instanceof Error && e.name === 'AbortError') {
      process.stderr.write('\n');
      throw new VlxError('cancelled', 'vc create: cancelled at the prompt; nothing was created');
    }
    throw e;
  } finally {
    rl.close();
  }
}

/**
 * As the report's VC_Create did: ask on the terminal for whatever was not given, then create.
 * An answer the cluster refuses (memory larger than any node, a disk smaller than the image,
 * a subnet taken meanwhile) is asked again; VcService checks everything before its first write.
 */
async function createInteractively(given: CreateAnswers, json: boolean): Promise<number> {
  const [images, vcs] = await Promise.all([call('images.list', {}), call('vc.list', {})]);
  const ctx: CreateContext = { images: images.map((i) => i.name), vcs: vcs.map((v) => v.name) };
  const answers = { ...given };
  await prompting(async (ask) => {
    for (const q of QUESTIONS) {
      const flag = answers[q.key];
      if (flag !== undefined) {
        // A bad value given on the command line is asked for like a bad answer.
        try {
          checkAnswer(q.key, flag, answers, ctx);
          continue;
        } catch (e) {
          if (!(e instanceof VlxError)) throw e;
          explain(e);
        }
      }
      answers[q.key] = await ask(q.key);
    }
  }, answers, ctx);
  for (;;) {
    try {
      return await vcTask('vc.create', specOf(answers), json);
    } catch (e) {
      const field = fieldOfError(e);
      if (!field) throw e;
      explain(e as VlxError);
      answers[field] = await prompting((ask) => ask(field), answers, ctx);
    }
  }
}

function printList(vcs: VcInfo[]): void {
  if (vcs.length === 0) {
    process.stdout.write('no virtual clusters (create one with `vlx vc create`)\n');
    return;
  }
  const rows = vcs.map((v) => [v.name, v.state, String(v.vms.length), `${v.vcpus}`, `${v.memMb}`, v.image, v.subnet,
    [...new Set(v.vms.map((m) => m.node).filter(Boolean))].join(',') || '-']);
  const head = ['NAME', 'STATE', 'VMS', 'VCPUS', 'MEM_MB', 'IMAGE', 'SUBNET', 'NODES'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) process.stdout.write(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd() + '\n');
}

function printStatus(s: VcDetail): void {
  process.stdout.write(`${s.name}: ${s.state}  image ${s.image}  subnet ${s.subnet}  ${s.vcpus} vCPU, ${s.memMb} MB each  ${s.policy}/${s.mode}\n`);
  for (const v of s.vms) {
    const found = s.actual[v.name]?.join(',') ?? '-';
    const ha = v.ha ? (v.ha.on ? `HA p${v.ha.priority} o${v.ha.order}` : 'no HA') : '';
    process.stdout.write(`  ${v.name.padEnd(8)} ${v.state.padEnd(10)} ${v.address.padEnd(15)} ${v.mac}  node ${(v.node ?? '-').padEnd(6)} qemu on ${found}${ha ? `  ${ha}` : ''}\n`);
    if (v.haNote) process.stdout.write(`           ${v.haNote}\n`);
  }
  if (s.drift.length) {
    process.stdout.write('drift (the DB says one thing, the nodes another):\n');
    for (const d of s.drift) process.stdout.write(`  ${d}\n`);
  } else process.stdout.write('no drift: the nodes match the DB\n');
}

function printTree(nodes: VolumeNodeT[], indent = ''): void {
  for (const n of nodes) {
    const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    process.stdout.write(`${indent}${n.path}  [${n.kind}] ${mb(n.allocatedBytes)} of ${mb(n.virtualBytes)}${n.usedBy ? `  ${n.usedBy}` : ''}\n`);
    printTree(n.children, indent + '  ');
  }
}

/** The contract's spec from typed answers: numbers where they are numbers, the rest as typed for the contract to refuse. */
function specOf(a: CreateAnswers): Input<'vc.create'> {
  return {
    name: a.name ?? '', nodes: num(a.nodes) as number, vcpus: num(a.vcpus) as number, memMb: num(a.memMb) as number, diskGb: num(a.diskGb) as number,
    ...(a.swapMb !== undefined ? { swapMb: num(a.swapMb) as number } : {}), image: a.image ?? '', ...(a.subnet !== undefined ? { subnet: a.subnet } : {}),
  };
}

export function registerVc(program: Command): void {
  const vc = program.command('vc').description('virtual clusters: create, start, stop, save, restore, destroy');

  vc.command('create [name]')
    .description('create a VC: its VMs, addresses and copy-on-write disks (asks for what is missing on a terminal)')
    .option('--nodes <n>', 'number of VMs')
    .option('--vcpus <n>', 'vCPUs per VM')
    .option('--mem-mb <mb>', 'memory per VM in MB')
    .option('--disk-gb <gb>', 'disk per VM in GB')
    .option('--swap-mb <mb>', 'swap per VM in MB (0: none)')
    .option('--image <name>', 'OS image (see `vlx image list`)')
    .option('--subnet <cidr>', 'auto or a private CIDR')
    .option('--json', 'print the task as JSON')
    .action(action(async (nameArg: string | undefined, o: Record<string, string | undefined>) => {
      const json = Boolean(o.json);
      const given: CreateAnswers = { name: nameArg, nodes: o.nodes, vcpus: o.vcpus, memMb: o.memMb, diskGb: o.diskGb, swapMb: o.swapMb, image: o.image, subnet: o.subnet };
      if (needsAnswers(given) && process.stdin.isTTY && !json) return createInteractively(given, json);
      if (given.name === undefined) throw new VlxError('invalid-input', 'name: is required', 'vlx vc create NAME --nodes N --vcpus C --mem-mb M --disk-gb D --image I');
      return vcTask('vc.create', specOf(given), json);
    }, FLAGS));

  vc.command('start <name>')
    .description('place the VMs on nodes and start them')
    .option('--policy <policy>', 'block (fill a node first) or cyclic (round robin)')
    .option('--mode <mode>', 'strict (never over-commit cores) or free')
    .option('--cold-boot', 'boot every VM in full, not from the image\'s warm-start template')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { policy?: string; mode?: string; coldBoot?: boolean; json?: boolean }) =>
      vcTask('vc.start', {
        name, ...(o.policy !== undefined ? { policy: o.policy as 'block' } : {}), ...(o.mode !== undefined ? { mode: o.mode as 'strict' } : {}),
        ...(o.coldBoot ? { boot: 'cold' as const } : {}),
      }, Boolean(o.json)), FLAGS));

  vc.command('stop <name>')
    .description('shut the VMs down (ACPI power button, then a hard stop at the deadline)')
    .option('--timeout <s>', 'seconds to wait for a clean shutdown', '30')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { timeout: string; json?: boolean }) =>
      vcTask('vc.stop', { name, timeoutS: num(o.timeout) as number }, Boolean(o.json)), FLAGS));

  vc.command('save <name>')
    .description('write every VM\'s memory and device state to shared storage and stop it')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { json?: boolean }) => vcTask('vc.save', { name }, Boolean(o.json)), FLAGS));

  vc.command('restore <name>')
    .description('bring a saved VC back, on the same nodes or re-placed with --policy/--mode')
    .option('--policy <policy>', 'block or cyclic: re-place the VMs')
    .option('--mode <mode>', 'strict or free')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { policy?: string; mode?: string; json?: boolean }) =>
      vcTask('vc.restore', { name, ...(o.policy !== undefined ? { policy: o.policy as 'block' } : {}), ...(o.mode !== undefined ? { mode: o.mode as 'strict' } : {}) }, Boolean(o.json)), FLAGS));

  vc.command('destroy <name>')
    .description('stop whatever runs and remove volumes, saved states, routes, firewall rules and DB rows')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { json?: boolean }) => vcTask('vc.destroy', { name }, Boolean(o.json)), FLAGS));

  vc.command('list')
    .description('every VC with its state, VMs and nodes')
    .option('--json', 'JSON output')
    .action(action(async (o: { json?: boolean }) => {
      const vcs = await call('vc.list', {});
      if (o.json) printJson(vcs);
      else printList(vcs);
    }));

  vc.command('status <name>')
    .description('what the DB says and what runs on the nodes (QEMU processes, routes), with any drift')
    .option('--json', 'JSON output')
    .action(action(async (name: string, o: { json?: boolean }) => {
      const st = await call('vc.get', { name });
      if (o.json) printJson(st);
      else printStatus(st);
    }, FLAGS));

  vc.command('ha <name> <on|off>')
    .description('HA restart: the VC\'s default for its VMs, or with --vm one VM\'s own (restarted elsewhere when its node is confirmed down)')
    .option('--vm <vm>', 'mark this VM only (otherwise the VC\'s default)')
    .option('--priority <n>', 'restart priority, higher first (-1000 to 1000)')
    .option('--order <n>', 'start order within the VC, lower first (0 to 1000; per VM)')
    .option('--json', 'JSON output')
    .action(action(async (name: string, onOff: string, o: { vm?: string; priority?: string; order?: string; json?: boolean }) => {
      if (onOff !== 'on' && onOff !== 'off') throw invalid('on|off', 'must be on or off', onOff);
      const r = await call('vc.setHa', {
        name, on: onOff === 'on', ...(o.vm !== undefined ? { vm: o.vm } : {}),
        ...(o.priority !== undefined ? { priority: num(o.priority) as number } : {}), ...(o.order !== undefined ? { order: num(o.order) as number } : {}),
      });
      if (o.json) return printJson(r);
      process.stdout.write(`${r.name}: HA ${r.ha?.on ? 'on' : 'off'} by default, priority ${r.ha?.priority ?? 0}\n`);
      for (const v of r.vms) process.stdout.write(`  ${v.name.padEnd(8)} ${v.ha?.on ? 'HA' : 'no HA'}  priority ${v.ha?.priority ?? 0}  order ${v.ha?.order ?? '-'}${v.ha?.own ? '' : '  (VC default)'}\n`);
    }, { ...FLAGS, vm: '--vm', priority: '--priority', order: '--order' }));

  registerSnapshotCommands(vc);

  vc.command('volumes')
    .description('the volumes on shared storage as backing chains: image → VM disks, and the installation\'s original → node roots')
    .option('--json', 'JSON output')
    .action(action(async (o: { json?: boolean }) => {
      const t = await call('volumes.tree', {});
      if (o.json) printJson(t);
      else printTree(t);
    }));
}
