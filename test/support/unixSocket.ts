import { connect, type Socket } from 'node:net';

/** A connected client of a local unix socket (QMP, serial) for tests. */
export function unixSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
