import { Command } from 'commander';
import { registerLab } from './lab.js';
import { registerCluster } from './cluster.js';
import { registerNodes } from './nodes.js';
import { registerDb } from './db.js';

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
  registerDb(program);
  return program;
}

const program = buildProgram();
program.exitOverride((err) => {
  // commander reports usage errors itself; make them exit 2 like other invalid input.
  process.exit(err.exitCode === 0 ? 0 : 2);
});
await program.parseAsync(process.argv);
