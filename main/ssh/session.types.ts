import type { ClusterConfig } from '../config/clusters.js';
import type { ExecOptions, ExecResult, NodeConn, NodeRef } from './types.js';

export interface NodeExecResult extends ExecResult {
  node: string;
  address: string;
  /** Set when the node could not be reached at all (then code is -1). */
  error?: { code: string; message: string };
  ms: number;
}

/** The app's view of one cluster over SSH: pooled connections, any live node. */
export interface ClusterSession {
  readonly config: ClusterConfig;
  nodes(): NodeRef[];
  /** The node in use, or the first to answer within a short deadline; moves on by itself when it dies. */
  any(): Promise<NodeConn>;
  node(name: string): Promise<NodeConn>;
  /** Run one command on many nodes in parallel (bounded); one result per node, failures included. */
  onNodes(names: string[] | 'all', command: string, opts?: ExecOptions): Promise<NodeExecResult[]>;
  /**
   * Nodes that joined the cluster while this session is open (an install or restore run in
   * this process): a long-running app sees them at once, with no reconnect. Names already
   * known are left as they are.
   */
  addNodes?(nodes: NodeRef[]): string[];
  close(): Promise<void>;
}
