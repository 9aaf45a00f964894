import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { ImageInfo } from '../api/contract.js';
import { action, printJson } from './output.js';
import { call, runTask } from './client.js';

const BUILDERS = ['tiny', 'tiny-bench', 'debian-12', 'debian-12-node'] as const;
const FLAGS = { kind: 'KIND', name: '--name', file: 'FILE' };

function mib(n: number | undefined): string {
  return n === undefined ? '-' : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function row(i: ImageInfo): string {
  if (i.problem) return `${i.name.padEnd(20)} ${'?'.padEnd(7)} ${i.problem}`;
  const size = i.kernel ? `kernel ${mib(i.kernelBytes)}, initrd ${mib(i.initrdBytes)}` : `disk ${mib(i.allocatedBytes)} of ${mib(i.virtualBytes)}`;
  return `${i.name.padEnd(20)} ${(i.kernel ? 'kernel' : 'disk').padEnd(7)} ${(i.guest ?? '').padEnd(9)} ${(i.createdAt ?? '').slice(0, 19).replace('T', ' ')}  ${size}`;
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('OS images (templates) for virtual clusters, on shared storage');

  image.command('build')
    .description(`build an image on this workstation and put it on shared storage (${BUILDERS.join(', ')})`)
    .argument('<kind>', BUILDERS.join(' | '))
    .option('--name <name>', 'image name (default: the kind)')
    .option('--local-only', 'build into the local cache only; do not upload')
    .option('--json', 'print the task as JSON')
    .action(action(async (kind: string, o: { name?: string; localOnly?: boolean; json?: boolean }) => {
      const { task, exitCode } = await runTask('images.build', { kind: kind as 'tiny', ...(o.name !== undefined ? { name: o.name } : {}), ...(o.localOnly ? { localOnly: true } : {}) }, { json: Boolean(o.json) });
      if (o.json) printJson(task);
      return exitCode;
    }, FLAGS));

  image.command('import')
    .description('make a cloud image (a standalone qcow2 that reads a NoCloud seed) a template')
    .argument('<file>', 'the .qcow2 file on this workstation')
    .requiredOption('--name <name>', 'image name')
    .option('--json', 'print the task as JSON')
    .action(action(async (file: string, o: { name: string; json?: boolean }) => {
      const { task, exitCode } = await runTask('images.import', { file: resolve(file), name: o.name }, { json: Boolean(o.json) });
      if (o.json) printJson(task);
      return exitCode;
    }, FLAGS));

  image.command('list')
    .description('images on shared storage')
    .option('--json', 'print JSON')
    .action(action(async (o: { json?: boolean }) => {
      const list = await call('images.list', {});
      if (o.json) printJson(list);
      else if (list.length === 0) process.stdout.write('no images yet: `vlx image build tiny` makes the smallest one\n');
      else process.stdout.write(list.map(row).join('\n') + '\n');
    }));

  image.command('info')
    .description('one image: metadata, template size, volumes backed by it')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(action(async (name: string, o: { json?: boolean }) => {
      const info = await call('images.info', { name });
      if (o.json) printJson(info);
      else {
        process.stdout.write(row(info) + '\n');
        if (info.cmdline) process.stdout.write(`  cmdline: ${info.cmdline}\n`);
        process.stdout.write(`  template: ${info.template.format}, ${mib(info.template.actualBytes)} on disk, ${mib(info.template.virtualBytes)} virtual\n`);
        process.stdout.write(`  used by: ${info.usedBy.length === 0 ? 'no volume' : info.usedBy.join(', ')}\n`);
      }
    }, { name: 'NAME' }));
}
