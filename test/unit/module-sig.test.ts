import { describe, expect, it } from 'vitest';
import { stripModuleSignature } from '../../main/images/moduleSig.js';

const MARKER = Buffer.from('~Module signature appended~\n');

/** A module as sign-file leaves it: the object, the signature, struct module_signature (sig_len big endian last), the marker. */
function signed(body: Buffer, sig: Buffer): Buffer {
  const info = Buffer.alloc(12);
  info[2] = 2; // id_type PKEY_ID_PKCS7
  info.writeUInt32BE(sig.length, 8);
  return Buffer.concat([body, sig, info, MARKER]);
}

describe('stripModuleSignature', () => {
  const body = Buffer.from('\x7fELF module body');
  it('removes the signature block and keeps the module as built', () => {
    expect(stripModuleSignature(signed(body, Buffer.alloc(681, 7))).equals(body)).toBe(true);
  });

  it('leaves a module without a signature unchanged, and tiny inputs too', () => {
    expect(stripModuleSignature(body)).toBe(body);
    expect(stripModuleSignature(Buffer.alloc(0)).length).toBe(0);
    expect(stripModuleSignature(MARKER)).toBe(MARKER);
  });

  it('refuses a signature length longer than the module, with an error', () => {
    const bad = signed(body, Buffer.alloc(4));
    bad.writeUInt32BE(10_000, bad.length - MARKER.length - 4);
    expect(() => stripModuleSignature(bad)).toThrow('longer than the module');
  });
});
