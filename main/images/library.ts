import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { SHARED_ROOT } from '../config/paths.js';
import { VlxError } from '../errors.js';
import { checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { storagePaths } from '../domain/storagePaths.js';
import type { CommandRunner } from './local.js';
import { ImageMetaSchema, type ImageMeta } from './types.js';

/**
 * The image repository on shared storage (images/ under the shared root), reached through
 * any node. Templates are read-only; a published image is replaced only when nothing is
 * backed by it, because an overlay whose backing file changes under it is corrupt.
 */
export interface ImageEntry {
  name: string;
  meta?: ImageMeta;
  /** Set when the metadata file is there but unreadable. */
  problem?: string;
}

const SEP = '\x1e';

/** Several files in one round trip: each printed after a separator line naming it. */
function splitRecords(out: string): { key: string; body: string }[] {
  return out
    .split(SEP)
    .slice(1)
    .map((rec) => {
      const nl = rec.indexOf('\n');
      return { key: rec.slice(0, nl), body: rec.slice(nl + 1) };
    });
}

export async function listImages(conn: CommandRunner, root: string = SHARED_ROOT): Promise<ImageEntry[]> {
  const dir = storagePaths(root).imagesDir;
  const out = await conn.run(`for f in ${sh(dir)}/*.json; do [ -f "$f" ] || continue; printf '\\036%s\\n' "$f"; cat "$f"; done`);
  return splitRecords(out)
    .map(({ key, body }): ImageEntry => {
      const name = posix.basename(key, '.json');
      try {
        return { name, meta: ImageMetaSchema.parse(JSON.parse(body)) };
      } catch (e) {
        return { name, problem: `unreadable metadata: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
      }
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function readImageMeta(conn: CommandRunner, name: string, root: string = SHARED_ROOT): Promise<ImageMeta | undefined> {
  const p = storagePaths(root).image(checkName('image', name, 'image'));
  // Exit 3 = no such image; any other failure is reported, never taken for "absent".
  const r = await conn.exec(`test -e ${sh(p.meta)} || exit 3; cat ${sh(p.meta)}`);
  if (r.code === 3) return undefined;
  if (r.code !== 0) throw new VlxError('remote-failed', `${conn.name}: cannot read ${p.meta}: ${r.stderr.trim()}`);
  try {
    return ImageMetaSchema.parse(JSON.parse(r.stdout));
  } catch (e) {
    throw new VlxError('conflict', `${p.meta} is not valid image metadata: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, 'remove the image files by hand or import under another name');
  }
}

/** Volumes on shared storage whose backing file is this image's template (found with qemu-img, which reads the qcow2 header). */
export async function volumesUsing(conn: CommandRunner, name: string, root: string = SHARED_ROOT): Promise<string[]> {
  const sp = storagePaths(root);
  const template = sp.image(checkName('image', name, 'image')).disk;
  // -U: running VMs hold a lock on their overlays; reading the header is still safe.
  const out = await conn.run(
    `for f in ${sh(sp.vcRoot)}/*/*.qcow2 ${sh(posix.join(root, 'cluster'))}/*/*.qcow2; do [ -f "$f" ] || continue; ` +
      `printf '\\036%s\\n' "$f"; qemu-img info -U --output=json "$f" 2>/dev/null; done`,
    { timeoutMs: 120_000 },
  );
  const users: string[] = [];
  for (const { key, body } of splitRecords(out)) {
    try {
      const info = JSON.parse(body) as { 'full-backing-filename'?: string; 'backing-filename'?: string };
      const b = info['full-backing-filename'] ?? info['backing-filename'];
      if (b && posix.resolve(posix.dirname(key), b) === template) users.push(key);
    } catch {
      // A file qemu-img cannot read is not a qcow2 overlay of ours.
    }
  }
  return users;
}

/** Big enough that the round trips do not matter, small enough that an image is never held in memory whole. */
const UPLOAD_CHUNK = 64 * 1024 * 1024;

/**
 * Copy a local file to a node through the command channel: no sftp needed. Sent in
 * chunks appended to a temporary name, then renamed, so a reader never sees half a file.
 */
export async function uploadFile(conn: CommandRunner, localPath: string, remotePath: string, opts: { mode?: string } = {}): Promise<void> {
  if (!remotePath.startsWith('/')) throw new VlxError('invalid-input', `remotePath: must be absolute (got ${JSON.stringify(remotePath)})`);
  const tmp = `${remotePath}.upload-${randomBytes(4).toString('hex')}`;
  const size = statSync(localPath).size;
  const fd = openSync(localPath, 'r');
  try {
    await conn.run(`${sh('mkdir', '-p', posix.dirname(remotePath))} && : > ${sh(tmp)}`);
    const buf = Buffer.alloc(Math.min(UPLOAD_CHUNK, Math.max(size, 1)));
    for (let off = 0; off < size; ) {
      const n = readSync(fd, buf, 0, buf.length, off);
      if (n <= 0) throw new VlxError('internal', `${localPath}: short read at ${off} of ${size}`);
      const r = await conn.exec(`cat >> ${sh(tmp)}`, { stdin: buf.subarray(0, n), timeoutMs: 600_000 });
      if (r.code !== 0) throw new VlxError('remote-failed', `${conn.name}: upload of ${localPath} to ${remotePath} failed: ${r.stderr.trim()}`);
      off += n;
    }
    const chmod = opts.mode ? `${sh('chmod', opts.mode, tmp)} && ` : '';
    // The size check catches a chunk lost to a dropped channel before the file goes live.
    await conn.run(`test "$(stat -c %s ${sh(tmp)})" = ${size} && ${chmod}${sh('mv', '-f', tmp, remotePath)}`);
  } catch (e) {
    await conn.exec(sh('rm', '-f', tmp)).catch(() => undefined);
    throw e;
  } finally {
    closeSync(fd);
  }
}

export interface LocalImage {
  meta: ImageMeta;
  files: { qcow2: string; kernel?: string; initrd?: string };
}

export type PublishResult = { status: 'published' | 'up-to-date'; name: string; replaced: boolean };

/**
 * Put a locally built or imported image on shared storage. Equal inputs → nothing to do;
 * different inputs over an image some volume is backed by → refused, with the way out.
 */
export async function publishImage(conn: CommandRunner, img: LocalImage, opts: { root?: string; log?: (l: string) => void } = {}): Promise<PublishResult> {
  const root = opts.root ?? SHARED_ROOT;
  const log = opts.log ?? (() => undefined);
  const name = checkName('image', img.meta.name, 'image');
  const dst = storagePaths(root).image(name);
  const existing = await readImageMeta(conn, name, root);
  const present = await conn.exec(
    [dst.disk, ...(img.files.kernel ? [dst.kernel] : []), ...(img.files.initrd ? [dst.initrd] : [])].map((f) => sh('test', '-f', f)).join(' && '),
  );
  if (existing && existing.inputs === img.meta.inputs && present.code === 0) {
    log(`${name} on shared storage is up to date`);
    return { status: 'up-to-date', name, replaced: false };
  }
  if (existing || present.code === 0) {
    const users = await volumesUsing(conn, name, root);
    if (users.length > 0) {
      const shown = users.slice(0, 5).map((u) => posix.relative(root, u)).join(', ');
      throw new VlxError(
        'conflict',
        `image ${name} differs from the one on shared storage, which is the template of ${users.length} volume(s) (${shown}${users.length > 5 ? ', …' : ''}); a template in use is never rebuilt in place`,
        `build it under a new name (--name ${name}-2), or destroy the VCs that use it first`,
      );
    }
  }
  const pairs: [string, string][] = [[img.files.qcow2, dst.disk]];
  if (img.files.kernel) pairs.push([img.files.kernel, dst.kernel]);
  if (img.files.initrd) pairs.push([img.files.initrd, dst.initrd]);
  for (const [src, to] of pairs) {
    log(`uploading ${posix.basename(to)}`);
    await uploadFile(conn, src, to, { mode: '0444' });
  }
  // The metadata goes last: an image is listed only once all its files are in place.
  const metaTmp = `${dst.meta}.upload-${randomBytes(4).toString('hex')}`;
  await conn.run(`cat > ${sh(metaTmp)} && ${sh('chmod', '0444', metaTmp)} && ${sh('mv', '-f', metaTmp, dst.meta)}`, {
    stdin: JSON.stringify(img.meta, null, 2) + '\n',
  });
  return { status: 'published', name, replaced: Boolean(existing) };
}

export interface ImageInfo {
  meta: ImageMeta;
  /** `qemu-img info` of the template as stored. */
  disk: { format: string; virtualSize: number; actualSize: number };
  usedBy: string[];
}

export async function imageInfo(conn: CommandRunner, name: string, root: string = SHARED_ROOT): Promise<ImageInfo> {
  const meta = await readImageMeta(conn, name, root);
  if (!meta) throw new VlxError('not-found', `no image named ${name} on shared storage`, 'see `vlx image list`; build one with `vlx image build tiny`');
  const p = storagePaths(root).image(name);
  const info = JSON.parse(await conn.run(sh('qemu-img', 'info', '-U', '--output=json', p.disk))) as { format: string; 'virtual-size': number; 'actual-size': number };
  return { meta, disk: { format: info.format, virtualSize: info['virtual-size'], actualSize: info['actual-size'] }, usedBy: await volumesUsing(conn, name, root) };
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
