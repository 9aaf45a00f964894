/** The only two IPC channel names; contract channels travel as data inside them. */
export const INVOKE = 'vlx:invoke';
export const EVENT = 'vlx:event';
export const SCHEME = 'vlx-app';
