import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { extractPvhKernel, hasPvhNote, lz4Legacy } from '../../main/images/vmlinux.js';

/** `lz4 -l` of SAMPLE (literals, long runs, overlapping matches), as the CLI wrote it. */
const SAMPLE = Buffer.concat([Buffer.from('vlx'.repeat(40)), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(300, 'A'), Buffer.from('hello world, '.repeat(7)), Buffer.from('end')]);
const SAMPLE_LZ4 = Buffer.from(
  'AiFMGCcBAAA/dmx4AwBi//QAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/QUFBAwD/F99oZWxsbyB3b3JsZCwgDQA5UCwgZW5k',
  'base64',
);

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** A legacy LZ4 stream of one literals-only block, plus the size the kernel build appends. */
function lz4Literals(data: Buffer): Buffer {
  const len: number[] = [];
  for (let rest = data.length - 15; ; rest -= 255) {
    len.push(Math.min(rest, 255));
    if (rest < 255) break;
  }
  const block = Buffer.concat([Buffer.from([0xf0, ...len]), data]);
  return Buffer.concat([u32(0x184c2102), u32(block.length), block, u32(data.length)]);
}

/** An ELF64 with one PT_NOTE segment holding one note. */
function elfWithNote(owner: string, type: number): Buffer {
  const elf = Buffer.alloc(256);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little endian
  elf.writeBigUInt64LE(64n, 0x20); // phoff
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(1, 0x38);
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(120n, 64 + 8); // offset
  elf.writeBigUInt64LE(24n, 64 + 32); // filesz
  elf.writeUInt32LE(4, 120);
  elf.writeUInt32LE(4, 124);
  elf.writeUInt32LE(type, 128);
  elf.write(`${owner}\0`.slice(0, 4), 132, 'latin1');
  return elf;
}

/** A bzImage with one setup sector and the given compressed payload. */
function bzImage(payload: Buffer, version = 0x20f): Buffer {
  const img = Buffer.alloc(2 * 512 + payload.length);
  img[0x1f1] = 1;
  img.write('HdrS', 0x202, 'latin1');
  img.writeUInt16LE(version, 0x206);
  img.writeUInt32LE(0, 0x248);
  img.writeUInt32LE(payload.length, 0x24c);
  payload.copy(img, 1024);
  return img;
}

describe('lz4Legacy', () => {
  it('decodes what the lz4 CLI wrote (literals, runs, overlapping matches)', () => {
    expect(lz4Legacy(SAMPLE_LZ4).equals(SAMPLE)).toBe(true);
  });

  it('decodes a kernel-style stream (the uncompressed size appended) and grows past its size hint', () => {
    const data = Buffer.from('x'.repeat(600) + 'y'.repeat(17));
    expect(lz4Legacy(lz4Literals(data), 16).equals(data)).toBe(true);
  });

  it.each<[string, Buffer, string]>([
    ['not LZ4', Buffer.from('hello world'), 'not a legacy LZ4 stream'],
    ['a block longer than the stream', Buffer.concat([u32(0x184c2102), u32(1000), Buffer.from([0x10, 0x41])]), 'runs past the stream'],
    ['a match before the start of the output', Buffer.concat([u32(0x184c2102), u32(4), Buffer.from([0x10, 0x41, 0x09, 0x00])]), 'points before the output'],
    ['a truncated match offset', Buffer.concat([u32(0x184c2102), u32(3), Buffer.from([0x10, 0x41, 0x01])]), 'truncated match offset'],
    ['literals past the block', Buffer.concat([u32(0x184c2102), u32(2), Buffer.from([0x50, 0x41])]), 'literals run past'],
  ])('refuses %s with an error, not a crash', (_label, stream, message) => {
    expect(() => lz4Legacy(stream)).toThrow(message);
  });
});

describe('hasPvhNote', () => {
  it('finds the PVH entry note, and nothing in other notes or non-ELF data', () => {
    expect(hasPvhNote(elfWithNote('Xen', 18))).toBe(true);
    expect(hasPvhNote(elfWithNote('Xen', 17))).toBe(false);
    expect(hasPvhNote(elfWithNote('GNU', 18))).toBe(false);
    expect(hasPvhNote(Buffer.alloc(10))).toBe(false);
    expect(hasPvhNote(Buffer.from('MZ'.repeat(64)))).toBe(false);
  });
});

describe('extractPvhKernel', () => {
  const pvh = elfWithNote('Xen', 18);
  it('unpacks an LZ4 payload (Debian) and a gzip one', () => {
    expect(extractPvhKernel(bzImage(lz4Literals(pvh)))?.equals(pvh)).toBe(true);
    expect(extractPvhKernel(bzImage(gzipSync(pvh)))?.equals(pvh)).toBe(true);
  });

  it.each<[string, Buffer]>([
    ['a kernel without the PVH note', bzImage(gzipSync(elfWithNote('Xen', 17)))],
    ['a compression it does not decode (xz)', bzImage(Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]), pvh]))],
    ['a corrupt payload', bzImage(Buffer.concat([u32(0x184c2102), u32(4), Buffer.from([0x10, 0x41, 0x09, 0x00])]))],
    ['an old boot protocol', bzImage(gzipSync(pvh), 0x207)],
    ['not a bzImage', Buffer.alloc(4096)],
    ['a payload length past the end', (() => { const b = bzImage(gzipSync(pvh)); b.writeUInt32LE(1 << 30, 0x24c); return b; })()],
  ])('keeps the bzImage (undefined) for %s', (_label, img) => {
    expect(extractPvhKernel(img)).toBeUndefined();
  });
});
