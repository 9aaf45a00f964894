import { Command } from 'commander';
import { commandWord } from './commandWord.js';

type Register = (program: Command) => void;

/**
 * Each command's module is loaded only when that command runs: a cold `vlx exec` must not pay
 * for the database driver, QEMU or web code it never uses (start-up cost is most of a cold
 * CLI run against warm nodes). Help over the whole tree loads them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  lab: async () => (await import('./lab.js')).registerLab,
  cluster: async () => (await import('./cluster.js')).registerCluster,
  nodes: async () => (await import('./nodes.js')).registerNodes,
  node: async () => (await import('./node.js')).registerNode,
  exec: async () => (await import('./exec.js')).registerExec,
  db: async () => (await import('./db.js')).registerDb,
  tasks: async () => (await import('./tasks.js')).registerTasks,
  vc: async () => (await import('./vc.js')).registerVc,
  vm: async () => (await import('./vm.js')).registerVm,
  image: async () => (await import('./image.js')).registerImage,
  console: async () => (await import('./console.js')).registerConsole,
  services: async () => (await import('./services.js')).registerServices,
  gui: async () => (await import('./gui.js')).registerGui,
  agent: async () => (await import('./agent.js')).registerAgent,
  install: async () => (await import('./install.js')).registerInstall,
  restore: async () => (await import('./install.js')).registerRestore,
  experiment: async () => (await import('./experiment.js')).registerExperiment,
};

export async function buildProgram(args: string[]): Promise<Command> {
  const program = new Command('vlx')
    .description('VirtuaLinux Manager: run a disk-less, master-less cluster and its virtual clusters')
    .option('--cluster <name>', 'use this cluster instead of the current one')
    .option('--accept-new-host-key', 'accept and remember the host key of a node seen for the first time')
    .showHelpAfterError()
    .hook('preAction', (cmd) => {
      const o = cmd.opts();
      if (o.cluster) process.env.VLX_CLUSTER = String(o.cluster);
      if (o.acceptNewHostKey) process.env.VLX_ACCEPT_NEW_HOST_KEY = '1';
    });
  const word = commandWord(args);
  const wanted = word && COMMANDS[word] ? [word] : Object.keys(COMMANDS);
  const registers = await Promise.all(wanted.map((name) => COMMANDS[name]()));
  for (const register of registers) register(program);
  // commander reports usage errors itself; make them exit 2 like other invalid input. Subcommands
  // copy this setting only when created, so it is set on every command of the tree.
  const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
  for (const c of everyCommand(program)) {
    c.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  }
  return program;
}

/**
 * Output to a closed pipe (`vlx vc status X | head -3`) ends the command quietly, as other
 * Unix tools do; anything else that escapes a command is one line, never a stack trace.
 */
function guardStreams(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      process.exit(1);
    });
  }
  const last = (e: unknown) => {
    try {
      process.stderr.write(`vlx: error: ${e instanceof Error ? e.message : String(e)}\n`);
      if (process.env.VLX_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    } catch { /* stderr itself is gone */ }
    process.exit(1);
  };
  process.on('uncaughtException', last);
  process.on('unhandledRejection', last);
}

guardStreams();
const program = await buildProgram(process.argv.slice(2));
await program.parseAsync(process.argv);
// The command is done and its sessions closed. Should a handle outlive it anyway (a socket to
// a node that died mid-command, still retransmitting), the process must not sit there for
// minutes: after a short grace, flush what was written and exit with the command's code.
setTimeout(() => {
  process.stdout.write('', () => process.stderr.write('', () => process.exit()));
}, 2000).unref();
