import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';

/** A non-zero exit is data, not an exception: callers decide what it means. */
export interface ExecResult {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the remote command (close the channel) after this long; rejects with code 'timeout'. */
  timeoutMs?: number;
  stdin?: string | Buffer;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
}

/** One node reached over a pooled SSH connection. */
export interface NodeConn {
  readonly name: string;
  readonly address: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** exec, but a non-zero exit throws VlxError('remote-failed') naming node, command and stderr. */
  run(command: string, opts?: ExecOptions): Promise<string>;
  /** An interactive shell with a PTY (node consoles). */
  shell(size: { rows: number; cols: number; term?: string }): Promise<ClientChannel>;
  /** A stream to a unix socket on the node (OpenSSH stream-local forwarding: QMP, serial). */
  openUnixSocket(path: string): Promise<Duplex>;
  /** A stream to host:port as seen from the node (DB tunnel, migration checks). */
  openTcp(host: string, port: number): Promise<Duplex>;
}

export interface NodeRef {
  name: string;
  address: string;
}
