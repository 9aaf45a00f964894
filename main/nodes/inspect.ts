import { z } from 'zod';
import { NODE_ETC, NODE_LIB } from '../config/paths.js';
import { quote } from '../util/quote.js';
import type { ClusterSession, NodeExecResult } from '../ssh/session.types.js';
import { NODE_TOOLS, type NodeTool } from './requirements.js';

export type KvmState = 'usable' | 'unusable' | 'absent' | 'unverified';

export interface NodeInfo {
  node: string;
  address: string;
  reachable: boolean;
  error?: { code: string; message: string };
  hostname?: string;
  kernel?: string;
  /** From /etc/virtualinux/node.json: what the cluster may place on this node. */
  declared?: { cores?: number; memMb?: number };
  detected?: { cores?: number; memMb?: number };
  kvm?: { state: KvmState; reason?: string; checkedAt?: string };
  tools?: Record<string, boolean>;
  missingTools?: string[];
}

export const NODE_JSON = `${NODE_ETC}/node.json`;
export const KVM_PROBE_JSON = `${NODE_LIB}/kvm.json`;

function toolTest(t: NodeTool): string {
  const found = 'check' in t && 'command' in t.check
    ? `command -v ${quote(t.check.command)} >/dev/null 2>&1`
    // The glob stays unquoted on purpose: the shell expands it; `ls` fails when nothing matched.
    : `ls -d ${(t.check as { glob: string }).glob} >/dev/null 2>&1`;
  return `if ${found}; then echo ${quote(`tool ${t.name} 1`)}; else echo ${quote(`tool ${t.name} 0`)}; fi`;
}

/**
 * One remote shell script that prints `key value` lines; files that may hold anything are
 * base64-encoded so they stay on one line. One round trip per node.
 */
export function inspectScript(tools: readonly NodeTool[] = NODE_TOOLS): string {
  for (const t of tools) {
    if ('glob' in t.check && !/^[A-Za-z0-9_./*-]+$/.test(t.check.glob)) throw new Error(`unsafe tool glob ${t.check.glob}`);
  }
  return [
    'echo "hostname $(hostname)"',
    'echo "kernel $(uname -r)"',
    'echo "nproc $(nproc 2>/dev/null)"',
    `echo "memkb $(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"`,
    `echo "nodejson $(base64 -w0 ${quote(NODE_JSON)} 2>/dev/null)"`,
    'if [ -c /dev/kvm ]; then echo "kvmdev 1"; else echo "kvmdev 0"; fi',
    `echo "kvmjson $(base64 -w0 ${quote(KVM_PROBE_JSON)} 2>/dev/null)"`,
    ...tools.map(toolTest),
  ].join('\n');
}

const DeclaredJson = z.object({
  cores: z.number().int().positive().optional(),
  memMb: z.number().int().positive().optional(),
}).passthrough();

const KvmJson = z.object({
  usable: z.boolean(),
  checkedAt: z.union([z.string(), z.number()]).optional(),
  reason: z.string().optional(),
}).passthrough();

function decodeJson(b64: string | undefined): unknown {
  if (!b64) return undefined;
  try {
    return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

function int(s: string | undefined): number | undefined {
  return s && /^\d+$/.test(s) ? Number(s) : undefined;
}

/**
 * The KVM verdict: the device alone proves nothing (LAB-NOTES: a paravirtual /dev/kvm that
 * cannot boot stock kernels), so only a recorded boot probe says usable or unusable.
 */
export function kvmState(hasDevice: boolean, probe: unknown): { state: KvmState; reason?: string; checkedAt?: string } {
  if (!hasDevice) return { state: 'absent', reason: 'no /dev/kvm' };
  const p = KvmJson.safeParse(probe);
  if (!p.success) return { state: 'unverified', reason: probe === undefined ? 'no boot probe recorded yet' : 'boot probe record unreadable' };
  const checkedAt = p.data.checkedAt === undefined ? undefined : String(p.data.checkedAt);
  return {
    state: p.data.usable ? 'usable' : 'unusable',
    ...(p.data.reason ? { reason: p.data.reason } : {}),
    ...(checkedAt ? { checkedAt } : {}),
  };
}

export function parseInspect(node: string, address: string, stdout: string, tools: readonly NodeTool[] = NODE_TOOLS): NodeInfo {
  const kv = new Map<string, string>();
  const toolSeen: Record<string, boolean> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'tool') {
      const [name, ok] = m[2].split(' ');
      if (name) toolSeen[name] = ok === '1';
    } else kv.set(m[1], m[2]);
  }
  const declaredRaw = DeclaredJson.safeParse(decodeJson(kv.get('nodejson')));
  const memKb = int(kv.get('memkb'));
  const toolMap = Object.fromEntries(tools.map((t) => [t.name, toolSeen[t.name] === true]));
  return {
    node,
    address,
    reachable: true,
    hostname: kv.get('hostname') || undefined,
    kernel: kv.get('kernel') || undefined,
    declared: declaredRaw.success
      ? { cores: declaredRaw.data.cores, memMb: declaredRaw.data.memMb }
      : undefined,
    detected: { cores: int(kv.get('nproc')), memMb: memKb === undefined ? undefined : Math.floor(memKb / 1024) },
    kvm: kvmState(kv.get('kvmdev') === '1', decodeJson(kv.get('kvmjson'))),
    tools: toolMap,
    missingTools: tools.filter((t) => !toolMap[t.name]).map((t) => t.name),
  };
}

export function nodeInfoFrom(r: NodeExecResult): NodeInfo {
  if (r.error) return { node: r.node, address: r.address, reachable: false, error: r.error };
  if (r.code !== 0) {
    return { node: r.node, address: r.address, reachable: true, error: { code: 'remote-failed', message: `inspection exited with ${r.code}: ${r.stderr.trim()}` } };
  }
  return parseInspect(r.node, r.address, r.stdout);
}

/** Inspect every node of the cluster in parallel; unreachable nodes are entries, not errors. */
export async function inspectNodes(session: ClusterSession, opts: { timeoutMs?: number } = {}): Promise<NodeInfo[]> {
  const results = await session.onNodes('all', inspectScript(), { timeoutMs: opts.timeoutMs ?? 20_000 });
  return results.map(nodeInfoFrom);
}
