/**
 * Where a VC's VMs find its shared storage: the first address of the subnet (the gateway on
 * each VM's tap, wherever the VM runs) serves /vc/NAME, mounted at /shared in every guest.
 */
export function sharedStorageSource(name: string, subnet: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
  if (!m) return undefined;
  const prefix = Number(m[5]);
  const octets = m.slice(1, 5).map(Number);
  if (prefix > 30 || octets.some((o) => o > 255)) return undefined;
  const base = (((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3]) & (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
  const gw = (base >>> 0) + 1;
  return `${[24, 16, 8, 0].map((s) => (gw >>> s) & 255).join('.')}:/vc/${name}`;
}
