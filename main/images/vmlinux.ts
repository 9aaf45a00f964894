import { gunzipSync } from 'node:zlib';

/**
 * The uncompressed kernel inside a bzImage, for QEMU's PVH entry: QEMU then loads the ELF
 * straight into guest memory and the kernel starts at its 32-bit entry, so neither the
 * firmware's Linux loader nor the kernel's self-decompression runs. Under TCG that
 * decompression is a few hundred ms of emulated CPU per boot, paid by every VM.
 * Pure: a Buffer in, a Buffer (or undefined: keep the bzImage) out.
 */

/** The legacy LZ4 frame the kernel's build writes (`lz4 -l`): this magic, then blocks of `u32 size` + data. */
const LZ4_LEGACY_MAGIC = 0x184c2102;
/** A legacy frame's blocks decompress to at most 8 MiB each. */
const LZ4_LEGACY_BLOCK = 8 << 20;
/** No x86 kernel image comes near this: a corrupt size field must not allocate gigabytes. */
const MAX_KERNEL = 512 << 20;
/** ELF note type XEN_ELFNOTE_PHYS32_ENTRY, owner "Xen": the kernel has a PVH entry point. */
const PVH_NOTE_TYPE = 18;

/** Decompresses one LZ4 block (the raw block format: sequences of literals and back-references) into out at op. */
export function lz4Block(src: Buffer, start: number, end: number, out: Buffer, op: number): number {
  let ip = start;
  const fail = (what: string): never => {
    throw new Error(`LZ4 block at ${start}: ${what}`);
  };
  while (ip < end) {
    const token = src[ip++];
    let lit = token >> 4;
    if (lit === 15) {
      let b;
      do {
        if (ip >= end) fail('literal length runs past the block');
        b = src[ip++];
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > end || op + lit > out.length) fail('literals run past the block or the output');
    src.copy(out, op, ip, ip + lit);
    ip += lit;
    op += lit;
    // The last sequence of a block has literals only.
    if (ip >= end) break;
    if (ip + 2 > end) fail('truncated match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) fail(`match offset ${offset} points before the output`);
    let len = token & 15;
    if (len === 15) {
      let b;
      do {
        if (ip >= end) fail('match length runs past the block');
        b = src[ip++];
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (op + len > out.length) fail('match runs past the output');
    // Byte by byte: a match may overlap the bytes it is producing (a run).
    for (let i = 0; i < len; i++, op++) out[op] = out[op - offset];
  }
  return op;
}

/** A legacy LZ4 stream as the kernel build writes it; `sizeHint` (the size the build appends) sizes the output. */
export function lz4Legacy(src: Buffer, sizeHint?: number): Buffer {
  if (src.length < 4 || src.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) throw new Error('not a legacy LZ4 stream');
  let out = Buffer.alloc(Math.min(sizeHint ?? LZ4_LEGACY_BLOCK, MAX_KERNEL));
  let ip = 4;
  let op = 0;
  // The kernel build appends the uncompressed size (4 bytes) after the last block.
  while (ip + 4 < src.length) {
    const size = src.readUInt32LE(ip);
    if (size === LZ4_LEGACY_MAGIC) {
      ip += 4; // a concatenated frame: its magic again
      continue;
    }
    ip += 4;
    if (size === 0 || ip + size > src.length) throw new Error(`LZ4 block of ${size} bytes at ${ip - 4} runs past the stream`);
    if (out.length - op < LZ4_LEGACY_BLOCK) {
      if (out.length >= MAX_KERNEL) throw new Error(`decompressed kernel exceeds ${MAX_KERNEL} bytes`);
      const grown = Buffer.alloc(Math.min(out.length * 2 + LZ4_LEGACY_BLOCK, MAX_KERNEL));
      out.copy(grown, 0, 0, op);
      out = grown;
    }
    op = lz4Block(src, ip, ip + size, out, op);
    ip += size;
  }
  return out.subarray(0, op);
}

/** Whether an ELF64 image carries the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), which QEMU needs to boot it. */
export function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length || elf.readUInt32LE(ph) !== 4 /* PT_NOTE */) continue;
    let p = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(p + Number(elf.readBigUInt64LE(ph + 32)), elf.length);
    while (p + 12 <= end) {
      const namesz = elf.readUInt32LE(p);
      const descsz = elf.readUInt32LE(p + 4);
      const type = elf.readUInt32LE(p + 8);
      const name = elf.subarray(p + 12, p + 12 + namesz).toString('latin1').replace(/\0+$/, '');
      if (name === 'Xen' && type === PVH_NOTE_TYPE) return true;
      p += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
  return false;
}

/**
 * The PVH-bootable ELF inside a bzImage, or undefined when it cannot be had (an older boot
 * protocol, a compression we do not decode, no PVH note): the caller then keeps the bzImage,
 * which boots the slower way.
 */
export function extractPvhKernel(bzImage: Buffer): Buffer | undefined {
  if (bzImage.length < 0x250 || bzImage.toString('latin1', 0x202, 0x206) !== 'HdrS' || bzImage.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSectors = bzImage[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + bzImage.readUInt32LE(0x248);
  const length = bzImage.readUInt32LE(0x24c);
  if (start + length > bzImage.length || length < 8) return undefined;
  const payload = bzImage.subarray(start, start + length);
  let elf: Buffer;
  try {
    if (payload.readUInt32LE(0) === LZ4_LEGACY_MAGIC) elf = lz4Legacy(payload, payload.readUInt32LE(payload.length - 4));
    else if (payload[0] === 0x1f && payload[1] === 0x8b) elf = gunzipSync(payload);
    else return undefined;
  } catch {
    return undefined;
  }
  return hasPvhNote(elf) ? elf : undefined;
}
