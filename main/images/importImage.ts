import { existsSync, statSync } from 'node:fs';
import { VlxError } from '../errors.js';
import { checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { sha256File, publishImage, type PublishResult } from './library.js';
import { localRunner, type CommandRunner } from './local.js';
import type { ImageMeta } from './types.js';

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  encrypted?: boolean;
}

/**
 * Check a cloud image before it becomes a template: a standalone, unencrypted qcow2. Any
 * cloud image boots from its own disk and reads its network from a NoCloud seed.
 */
export async function inspectImport(file: string, name: string, run: CommandRunner = localRunner()): Promise<ImageMeta> {
  checkName('image', name, 'name');
  if (!existsSync(file) || !statSync(file).isFile()) throw new VlxError('not-found', `file: ${file} does not exist or is not a file`);
  const r = await run.exec(sh('qemu-img', 'info', '--output=json', file));
  if (r.code !== 0) throw new VlxError('invalid-input', `file: qemu-img cannot read ${file}: ${r.stderr.trim()}`);
  const info = JSON.parse(r.stdout) as QemuImgInfo;
  if (info.format !== 'qcow2') {
    throw new VlxError('invalid-input', `file: must be a qcow2 image (got ${info.format})`, `convert it first: qemu-img convert -O qcow2 ${file} ${file.replace(/\.[^./]*$/, '')}.qcow2`);
  }
  if (info['backing-filename']) {
    throw new VlxError('invalid-input', `file: must stand alone, but it is backed by ${info['backing-filename']}`, 'flatten it: qemu-img convert -O qcow2 FILE NEW.qcow2');
  }
  if (info.encrypted) throw new VlxError('invalid-input', 'file: an encrypted image cannot be a shared template');
  return {
    name,
    kind: 'disk',
    guest: 'imported',
    seed: 'nocloud',
    createdAt: new Date().toISOString(),
    sizes: { qcow2: statSync(file).size, qcow2Virtual: info['virtual-size'] },
    inputs: await sha256File(file),
  };
}

export async function importImage(conn: CommandRunner, file: string, name: string, opts: { root?: string; log?: (l: string) => void } = {}): Promise<PublishResult> {
  const meta = await inspectImport(file, name);
  return publishImage(conn, { meta, files: { qcow2: file } }, opts);
}
