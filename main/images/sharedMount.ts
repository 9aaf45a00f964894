/**
 * How a guest mounts its VC's shared storage (served by every node, see main/vc/sharedNfs.ts):
 * NFSv3 over TCP from its gateway, at fixed ports so no portmapper lookup is needed, without
 * NLM locking (stateful, so it would not follow a migrated VM), and `hard` so a VM moving to
 * another node waits for the new server instead of seeing I/O errors.
 */
export const NFS_PORT = 2049;
export const MOUNT_PORT = 20048;
export const SHARED_MOUNT_POINT = '/shared';
export const NFS_MOUNT_OPTIONS = `vers=3,proto=tcp,port=${NFS_PORT},mountproto=tcp,mountport=${MOUNT_PORT},nolock,hard,timeo=100`;
/** What the tiny guest prints on its console when it could not mount the share (the start logs it). */
export const SHARED_FAILED_MARKER = 'vlx-shared-failed';
