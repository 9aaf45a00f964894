import type { Command } from 'commander';
import { VlxError } from '../errors.js';
import { inspectImport } from '../images/importImage.js';
import { imageInfo, listImages, publishImage, type ImageEntry } from '../images/library.js';
import { buildTiny } from '../images/tiny.js';
import { withCurrentCluster } from '../ssh/session.js';
import type { NodeConn } from '../ssh/types.js';
import { checkName } from '../util/names.js';
import { action, printJson, progressDone, progressLine } from './output.js';

const BUILDERS = ['tiny', 'debian-12'] as const;

/** Shared storage is the same on every node: any live node will do. */
async function withAnyNode<T>(fn: (conn: NodeConn) => Promise<T>): Promise<T> {
  return withCurrentCluster(async (session) => fn(await session.any()));
}

function mib(n: number | undefined): string {
  return n === undefined ? '-' : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function row(e: ImageEntry): string {
  if (!e.meta) return `${e.name.padEnd(20)} ${'?'.padEnd(7)} ${e.problem ?? ''}`;
  const m = e.meta;
  const size = m.kind === 'kernel' ? `kernel ${mib(m.sizes.kernel)}, initrd ${mib(m.sizes.initrd)}` : `disk ${mib(m.sizes.qcow2)} of ${mib(m.sizes.qcow2Virtual)}`;
  return `${m.name.padEnd(20)} ${m.kind.padEnd(7)} ${m.guest.padEnd(9)} ${m.createdAt.slice(0, 19).replace('T', ' ')}  ${size}`;
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('OS images (templates) for virtual clusters, on shared storage');

  image.command('build')
    .description(`build an image on this workstation and put it on shared storage (${BUILDERS.join(', ')})`)
    .argument('<kind>', BUILDERS.join(' | '))
    .option('--name <name>', 'image name (default: the kind)')
    .option('--local-only', 'build into the local cache only; do not upload')
    .option('--json', 'print the result as JSON')
    .action(action(async (kind: string, o: { name?: string; localOnly?: boolean; json?: boolean }) => {
      if (!(BUILDERS as readonly string[]).includes(kind)) throw new VlxError('invalid-input', `kind: must be one of ${BUILDERS.join(', ')} (got ${JSON.stringify(kind)})`);
      const name = checkName('image', o.name ?? kind, 'name');
      const log = (l: string): void => progressLine(`image ${name}: ${l}`);
      let built;
      if (kind === 'tiny') built = await buildTiny({ name, log });
      else {
        const { buildDebian } = await import('../images/debian.js');
        built = await buildDebian({ name, log });
      }
      const published = o.localOnly ? undefined : await withAnyNode((conn) => publishImage(conn, built, { log }));
      progressDone();
      if (o.json) printJson({ meta: built.meta, rebuilt: built.rebuilt, localFiles: built.files, published });
      else {
        process.stdout.write(`${name}: ${built.rebuilt ? 'built' : 'cached build up to date'} (${built.files.dir})\n`);
        if (published) process.stdout.write(`${name}: ${published.status === 'up-to-date' ? 'shared storage already up to date' : published.replaced ? 'replaced on shared storage' : 'on shared storage'}\n`);
      }
    }));

  image.command('import')
    .description('make a cloud image (a standalone qcow2 that reads a NoCloud seed) a template')
    .argument('<file>', 'the .qcow2 file on this workstation')
    .requiredOption('--name <name>', 'image name')
    .option('--json', 'print the result as JSON')
    .action(action(async (file: string, o: { name: string; json?: boolean }) => {
      const name = checkName('image', o.name, 'name');
      // The file is checked here first: a bad file fails without touching the cluster.
      progressLine(`image ${name}: checking ${file}`);
      const meta = await inspectImport(file, name);
      const r = await withAnyNode((conn) => publishImage(conn, { meta, files: { qcow2: file } }, { log: (l) => progressLine(`image ${name}: ${l}`) }));
      progressDone();
      if (o.json) printJson(r);
      else process.stdout.write(`${name}: ${r.status === 'up-to-date' ? 'already on shared storage' : 'imported'}\n`);
    }));

  image.command('list')
    .description('images on shared storage')
    .option('--json', 'print JSON')
    .action(action(async (o: { json?: boolean }) => {
      const list = await withAnyNode((conn) => listImages(conn));
      if (o.json) printJson(list);
      else if (list.length === 0) process.stdout.write('no images yet: `vlx image build tiny` makes the smallest one\n');
      else process.stdout.write(list.map(row).join('\n') + '\n');
    }));

  image.command('info')
    .description('one image: metadata, template size, volumes backed by it')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(action(async (name: string, o: { json?: boolean }) => {
      const info = await withAnyNode((conn) => imageInfo(conn, checkName('image', name, 'name')));
      if (o.json) printJson(info);
      else {
        process.stdout.write(row({ name, meta: info.meta }) + '\n');
        if (info.meta.cmdline) process.stdout.write(`  cmdline: ${info.meta.cmdline}\n`);
        process.stdout.write(`  template: ${info.disk.format}, ${mib(info.disk.actualSize)} on disk, ${mib(info.disk.virtualSize)} virtual\n`);
        process.stdout.write(`  used by: ${info.usedBy.length === 0 ? 'no volume' : info.usedBy.join(', ')}\n`);
      }
    }));
}
