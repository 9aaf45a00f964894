import { inspectImport } from '../images/importImage.js';
import { imageInfo, listImages, publishImage, type LocalImage } from '../images/library.js';
import type { BuiltImage } from '../images/tiny.js';
import { imageView } from './views.js';
import type { Handlers } from './handlers.js';

type C = 'images.list' | 'images.info' | 'images.build' | 'images.import';

export const handlers: Handlers<C> = {
  'images.list': async (ctx) => {
    const entries = await listImages(await ctx.cluster().session.any());
    return entries.map((e) => imageView(e.name, e.meta, e.problem));
  },
  'images.info': async (ctx, { name }) => {
    const info = await imageInfo(await ctx.cluster().session.any(), name);
    return {
      ...imageView(name, info.meta),
      ...(info.meta.cmdline ? { cmdline: info.meta.cmdline } : {}),
      template: { format: info.disk.format, actualBytes: info.disk.actualSize, virtualBytes: info.disk.virtualSize },
      usedBy: info.usedBy,
    };
  },
  /** Built on this workstation (a local task: the build needs no database), then put on shared storage. */
  'images.build': async (ctx, { kind, name: given, localOnly }) => {
    const name = given ?? kind;
    // Reach the cluster first: a build for a cluster that is not there fails before minutes of work.
    const conn = localOnly ? undefined : await ctx.cluster().session.any();
    return {
      taskId: ctx.local.start('image.build', name, localOnly ? ['build'] : ['build', 'publish'], async (t) => {
        t.step('build');
        const log = (l: string) => t.log(l);
        let built: BuiltImage;
        if (kind === 'tiny') {
          const { buildTiny } = await import('../images/tiny.js');
          built = await buildTiny({ name, log });
        } else if (kind === 'tiny-bench') {
          const { buildBench } = await import('../images/bench.js');
          built = await buildBench({ name, log });
        } else if (kind === 'debian-12-node') {
          const { buildDebianNode } = await import('../images/debianNode.js');
          built = await buildDebianNode({ name, log });
        } else {
          const { buildDebian } = await import('../images/debian.js');
          built = await buildDebian({ name, log });
        }
        t.log(`${name}: ${built.rebuilt ? 'built' : 'cached build up to date'} (${built.files.dir})`);
        if (!conn) return;
        t.step('publish');
        const r = await publishImage(conn, built, { log });
        t.log(`${name}: ${r.status === 'up-to-date' ? 'shared storage already up to date' : r.replaced ? 'replaced on shared storage' : 'on shared storage'}`);
        ctx.changed('images', 'volumes');
      }),
    };
  },
  'images.import': async (ctx, { file, name }) => {
    // The file is checked first: a bad file fails the call without touching the cluster.
    const meta = await inspectImport(file, name);
    const conn = await ctx.cluster().session.any();
    return {
      taskId: ctx.local.start('image.import', name, ['publish'], async (t) => {
        t.step('publish');
        const img: LocalImage = { meta, files: { qcow2: file } };
        const r = await publishImage(conn, img, { log: (l) => t.log(l) });
        t.log(`${name}: ${r.status === 'up-to-date' ? 'already on shared storage' : 'imported'}`);
        ctx.changed('images', 'volumes');
      }),
    };
  },
};
