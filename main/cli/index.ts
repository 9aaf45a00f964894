import { Command } from 'commander';
import { registerLab } from './lab.js';
import { registerCluster } from './cluster.js';
import { registerNodes } from './nodes.js';
import { registerExec } from './exec.js';
import { registerDb } from './db.js';
import { registerTasks } from './tasks.js';
import { registerGui } from './gui.js';
import { registerConsole } from './console.js';
import { registerVc } from './vc.js';
import { registerVm } from './vm.js';
import { registerImage } from './image.js';
import { registerServices } from './services.js';

export function buildProgram(): Command {
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
  registerLab(program);
  registerCluster(program);
  registerNodes(program);
  registerExec(program);
  registerDb(program);
  registerTasks(program);
  registerGui(program);
  registerConsole(program);
  registerVc(program);
  registerVm(program);
  registerImage(program);
  registerServices(program);
  return program;
}

const program = buildProgram();
// commander reports usage errors itself; make them exit 2 like other invalid input. Subcommands
// copy this setting only when created, so it is set on every command of the tree.
const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
for (const c of everyCommand(program)) {
  c.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}
await program.parseAsync(process.argv);
