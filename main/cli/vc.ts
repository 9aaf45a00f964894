import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { VlxError } from '../errors.js';
import { EXIT, action, printJson, progressDone, progressLine } from './output.js';
import { VcService, type VcStatus } from '../services/vc.js';
import type { TaskEvent, TaskSummary } from '../tasks/types.js';
import type { VcInfo, VolumeNodeT } from '../api/contract.js';
import type { Mode, Policy } from '../placement/place.js';
import { VC_LIMITS } from '../vc/spec.js';

/** Live progress of a task on stderr (one line per change; rewritten in place on a TTY) and its log lines. */
export function taskRenderer(json: boolean): (e: TaskEvent) => void {
  let last = '';
  return (e) => {
    if (json) return;
    if (e.type === 'log') {
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      process.stderr.write(`  ${e.line}\n`);
      if (last && process.stderr.isTTY) process.stderr.write(last);
      return;
    }
    const t = e.task;
    const s = t.steps.find((x) => x.state === 'running');
    const line = `${t.kind} ${t.target}: ${Math.round(t.progress * 100)}%${s ? ` ${s.name}${s.note ? ` (${s.note})` : ''}` : ''} [${t.state}]`;
    if (line === last) return;
    last = line;
    progressLine(line);
  };
}

/** Print a finished task's outcome; its error's code gives the exit code. */
export function finishTask(t: TaskSummary, json: boolean): number {
  if (json) printJson(t);
  else {
    progressDone();
    if (t.state === 'succeeded') process.stderr.write(`${t.kind} ${t.target}: done (task ${t.id.slice(0, 8)})\n`);
  }
  if (t.state === 'succeeded') return 0;
  if (!json) {
    process.stderr.write(`vlx: error: ${t.kind} ${t.target} ${t.state}${t.error ? ` in step "${t.error.step}": ${t.error.message}` : ''}\n`);
    process.stderr.write(`  hint: see \`vlx tasks show ${t.id.slice(0, 8)}\`; re-running the same command continues the task\n`);
  }
  const code = (t.error?.code ?? 'cancelled') as keyof typeof EXIT;
  return EXIT[code] ?? 1;
}

async function withService<T>(fn: (s: VcService) => Promise<T>): Promise<T> {
  const s = VcService.open();
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Ctrl-C cancels the task between steps (a re-run continues it). */
function interruptSignal(): AbortSignal {
  const ctl = new AbortController();
  process.once('SIGINT', () => ctl.abort());
  return ctl.signal;
}

function runOpts(json: boolean) {
  return { onEvent: taskRenderer(json), signal: interruptSignal() };
}

const FIELDS: { key: 'nodes' | 'vcpus' | 'memMb' | 'diskGb' | 'swapMb' | 'image' | 'subnet'; ask: string; def?: string }[] = [
  { key: 'nodes', ask: `number of VMs (${VC_LIMITS.nodes.min}-${VC_LIMITS.nodes.max})` },
  { key: 'vcpus', ask: 'vCPUs per VM', def: '1' },
  { key: 'memMb', ask: 'memory per VM in MB', def: '128' },
  { key: 'diskGb', ask: 'disk per VM in GB', def: '1' },
  { key: 'swapMb', ask: 'swap per VM in MB', def: '0' },
  { key: 'image', ask: 'OS image', def: 'tiny' },
  { key: 'subnet', ask: 'subnet (auto or a CIDR)', def: 'auto' },
];

/** As the report's VC_Create did: ask for whatever was not given on the command line. */
async function askMissing(name: string | undefined, o: Record<string, string | undefined>): Promise<{ name: string; answers: Record<string, string | undefined> }> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const ask = async (q: string, def?: string): Promise<string> => {
      const a = (await rl.question(`${q}${def !== undefined ? ` [${def}]` : ''}: `)).trim();
      return a === '' && def !== undefined ? def : a;
    };
    const answers = { ...o };
    const n = name ?? (await ask('VC name'));
    for (const f of FIELDS) if (answers[f.key] === undefined) answers[f.key] = await ask(f.ask, f.def);
    return { name: n, answers };
  } finally {
    rl.close();
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

function printStatus(s: VcStatus): void {
  process.stdout.write(`${s.name}: ${s.state}  image ${s.image}  subnet ${s.subnet}  ${s.vcpus} vCPU, ${s.memMb} MB each  ${s.policy}/${s.mode}\n`);
  for (const v of s.vms) {
    const found = s.actual[v.name]?.join(',') ?? '-';
    process.stdout.write(`  ${v.name.padEnd(8)} ${v.state.padEnd(10)} ${v.address.padEnd(15)} ${v.mac}  node ${(v.node ?? '-').padEnd(6)} qemu on ${found}\n`);
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
      let name = nameArg;
      let answers: Record<string, string | undefined> = { nodes: o.nodes, vcpus: o.vcpus, memMb: o.memMb, diskGb: o.diskGb, swapMb: o.swapMb, image: o.image, subnet: o.subnet };
      const missing = name === undefined || FIELDS.some((f) => f.def === undefined && answers[f.key] === undefined) || answers.image === undefined;
      if (missing && process.stdin.isTTY && !json) ({ name, answers } = await askMissing(name, answers));
      if (name === undefined) throw new VlxError('invalid-input', 'VC name: is required', 'vlx vc create NAME --nodes N --vcpus C --mem-mb M --disk-gb D --image I');
      const raw = { name, ...Object.fromEntries(Object.entries(answers).filter(([, v]) => v !== undefined)) };
      return withService(async (s) => finishTask(await s.createVc(raw, runOpts(json)), json));
    }));

  vc.command('start <name>')
    .description('place the VMs on nodes and start them')
    .option('--policy <policy>', 'block (fill a node first) or cyclic (round robin)')
    .option('--mode <mode>', 'strict (never over-commit cores) or free')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { policy?: Policy; mode?: Mode; json?: boolean }) =>
      withService(async (s) => finishTask(await s.startVc(name, o.policy, o.mode, runOpts(Boolean(o.json))), Boolean(o.json)))));

  vc.command('stop <name>')
    .description('shut the VMs down (ACPI power button, then a hard stop at the deadline)')
    .option('--timeout <s>', 'seconds to wait for a clean shutdown', '30')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { timeout: string; json?: boolean }) =>
      withService(async (s) => finishTask(await s.stopVc(name, { timeoutS: o.timeout as unknown as number }, runOpts(Boolean(o.json))), Boolean(o.json)))));

  vc.command('save <name>')
    .description('write every VM\'s memory and device state to shared storage and stop it')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { json?: boolean }) =>
      withService(async (s) => finishTask(await s.saveVc(name, runOpts(Boolean(o.json))), Boolean(o.json)))));

  vc.command('restore <name>')
    .description('bring a saved VC back, on the same nodes or re-placed with --policy/--mode')
    .option('--policy <policy>', 'block or cyclic: re-place the VMs')
    .option('--mode <mode>', 'strict or free')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { policy?: Policy; mode?: Mode; json?: boolean }) =>
      withService(async (s) => finishTask(await s.restoreVc(name, o.policy, o.mode, runOpts(Boolean(o.json))), Boolean(o.json)))));

  vc.command('destroy <name>')
    .description('stop whatever runs and remove volumes, saved states, routes, firewall rules and DB rows')
    .option('--json', 'print the task as JSON')
    .action(action(async (name: string, o: { json?: boolean }) =>
      withService(async (s) => finishTask(await s.destroyVc(name, runOpts(Boolean(o.json))), Boolean(o.json)))));

  vc.command('list')
    .description('every VC with its state, VMs and nodes')
    .option('--json', 'JSON output')
    .action(action(async (o: { json?: boolean }) => withService(async (s) => {
      const vcs = await s.listVcs();
      if (o.json) printJson(vcs);
      else printList(vcs);
    })));

  vc.command('status <name>')
    .description('what the DB says and what runs on the nodes (QEMU processes, routes), with any drift')
    .option('--json', 'JSON output')
    .action(action(async (name: string, o: { json?: boolean }) => withService(async (s) => {
      const st = await s.vcStatus(name);
      if (o.json) printJson(st);
      else printStatus(st);
    })));

  vc.command('volumes')
    .description('the volumes on shared storage as backing chains (image → VM disks)')
    .option('--json', 'JSON output')
    .action(action(async (o: { json?: boolean }) => withService(async (s) => {
      const t = await s.volumesTree();
      if (o.json) printJson(t);
      else printTree(t);
    })));
}
