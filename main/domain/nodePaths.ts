/** Shared storage is mounted at the same path on every node. */
export const SHARED_ROOT = '/srv/virtualinux';
/** Node-private directories (each lab node gets its own via a private mount namespace). */
export const NODE_RUN = '/run/virtualinux';
export const NODE_LIB = '/var/lib/virtualinux';
export const NODE_ETC = '/etc/virtualinux';
