/**
 * A kernel module without its appended signature. The tiny guest's modules travel inside its
 * own initramfs, next to the kernel they were built with, so checking their signatures at
 * every boot proves nothing the image's build did not; under TCG it costs the guest a SHA-256
 * over every module (some 4 MB with the NFS client) in emulated instructions. An unsigned
 * module loads all the same (the kernel does not enforce signatures: CONFIG_MODULE_SIG_FORCE
 * is off in Debian's kernels, and nothing locks the guest down); it only marks the kernel
 * tainted, which a busybox test guest does not mind.
 */

/** What `scripts/sign-file` appends: the signature, a 12-byte struct module_signature, then this marker. */
const MARKER = Buffer.from('~Module signature appended~\n');
const INFO_SIZE = 12;

/** The module as built, without the signature block; a module without one comes back unchanged. */
export function stripModuleSignature(ko: Buffer): Buffer {
  if (ko.length < MARKER.length + INFO_SIZE || !ko.subarray(ko.length - MARKER.length).equals(MARKER)) return ko;
  const info = ko.length - MARKER.length - INFO_SIZE;
  // struct module_signature: algo, hash, id_type, signer_len, key_id_len, pad[3], sig_len (big endian).
  const sigLen = ko.readUInt32BE(info + 8);
  const end = info - sigLen;
  if (end <= 0) throw new Error(`module signature of ${sigLen} bytes is longer than the module`);
  return ko.subarray(0, end);
}
