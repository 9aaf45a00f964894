import { gzipSync } from 'node:zlib';

/**
 * A "newc" cpio archive, the format the kernel unpacks as an initramfs. Written here rather
 * than with the cpio binary so device nodes (/dev/console) need no root and no mknod,
 * and so the archive is byte-for-byte reproducible (fixed mtimes, sorted order, ino by
 * position): a rebuild with the same inputs yields the same file.
 */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function header(ino: number, mode: number, nlink: number, size: number, rmaj: number, rmin: number, nameLen: number): Buffer {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, nameLen, 0];
  return Buffer.from('070701' + fields.map(hex8).join(''), 'ascii');
}

function member(ino: number, mode: number, nlink: number, name: string, data: Buffer, rmaj = 0, rmin = 0): Buffer[] {
  const nameBuf = Buffer.from(name + '\0', 'utf8');
  const h = header(ino, mode, nlink, data.length, rmaj, rmin, nameBuf.length);
  return [h, nameBuf, pad4(h.length + nameBuf.length), data, pad4(data.length)];
}

function normalise(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!p || p.split('/').some((s) => s === '..' || s === '')) throw new Error(`cpio: bad path ${JSON.stringify(path)}`);
  return p;
}

/** Parent directories are added when missing, so callers list only what they mean. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const p = normalise(e.path);
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { type: 'dir', path: dir });
    }
    byPath.set(p, { ...e, path: p });
  }
  const out: Buffer[] = [];
  let ino = 1;
  for (const p of [...byPath.keys()].sort()) {
    const e = byPath.get(p)!;
    switch (e.type) {
      case 'dir':
        out.push(...member(ino++, S_IFDIR | (e.mode ?? 0o755), 2, p, Buffer.alloc(0)));
        break;
      case 'file':
        out.push(...member(ino++, S_IFREG | (e.mode ?? 0o644), 1, p, e.data));
        break;
      case 'symlink':
        out.push(...member(ino++, S_IFLNK | 0o777, 1, p, Buffer.from(e.target, 'utf8')));
        break;
      case 'char':
        out.push(...member(ino++, S_IFCHR | (e.mode ?? 0o600), 1, p, Buffer.alloc(0), e.major, e.minor));
        break;
    }
  }
  out.push(...member(0, 0, 1, 'TRAILER!!!', Buffer.alloc(0)));
  return Buffer.concat(out);
}

/** gzip with a fixed header (no name, mtime 0) so the output depends only on the input. */
export function gzipReproducible(data: Buffer): Buffer {
  return gzipSync(data, { level: 9 });
}
